/** Lambda's quota for a function and its layers once unzipped: 250 MB (262 144 000 bytes). */
export const LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
