"""lambda-harness's Python runtime interface client (standard library only), laid out as awslambdaric."""
