// The runtimes Lambda offers that the harness reproduces: the Python ones (LAMBDA-SPEC §9) and the
// OS-only ones (§10.2). A profile decides the platform's behaviour; for Python the interpreter that
// runs the code is the user's choice and may differ (a warning says so).

type PythonRuntimeId = 'python3.10' | 'python3.11' | 'python3.12' | 'python3.13' | 'python3.14'
/** OS-only runtimes: Lambda runs the function's (or a layer's) `bootstrap` executable. */
type OsOnlyRuntimeId = 'provided.al2023' | 'provided.al2'
export type RuntimeId = PythonRuntimeId | OsOnlyRuntimeId

export interface RuntimeProfile {
  readonly id: RuntimeId
  /** 'python': our runtime client (or --runtime-command); 'os-only': the function's bootstrap. */
  readonly family: 'python' | 'os-only'
  /** `major.minor` of the Python Lambda runs for this id; null on an OS-only runtime. */
  readonly pythonVersion: string | null
  readonly os: 'Amazon Linux 2' | 'Amazon Linux 2023'
  /** ISO dates (UTC) from AWS's runtime table. */
  readonly deprecation: string
  readonly blockCreate: string
  readonly blockUpdate: string
  /** AWS_EXECUTION_ENV: awslambdaric switches Unicode and SIGTERM behaviour on this exact value; unset (null) on provided.*. */
  readonly executionEnv: string | null
  /** From 3.12 responses carry Unicode raw; up to 3.11 it is escaped as \uXXXX. */
  readonly rawUnicode: boolean
  /** From 3.12 the RIC waits for /next in a worker thread, so a Python SIGTERM handler can run. */
  readonly sigtermReachesPython: boolean
}

function profile(
  id: PythonRuntimeId,
  os: RuntimeProfile['os'],
  deprecation: string,
  blockCreate: string,
  blockUpdate: string,
): RuntimeProfile {
  const pythonVersion = id.slice('python'.length)
  const modern = Number(pythonVersion.split('.')[1]) >= 12
  return {
    id,
    family: 'python',
    pythonVersion,
    os,
    deprecation,
    blockCreate,
    blockUpdate,
    executionEnv: `AWS_Lambda_${id}`,
    rawUnicode: modern,
    sigtermReachesPython: modern,
  }
}

/** AWS's OS-only runtime table (runtimes-provided.html): no language, no AWS_EXECUTION_ENV, no wrapper scripts. */
function osOnly(id: OsOnlyRuntimeId, os: RuntimeProfile['os'], deprecation: string, blockCreate: string, blockUpdate: string): RuntimeProfile {
  return { id, family: 'os-only', pythonVersion: null, os, deprecation, blockCreate, blockUpdate, executionEnv: null, rawUnicode: false, sigtermReachesPython: false }
}

export const RUNTIME_PROFILES: Readonly<Record<RuntimeId, RuntimeProfile>> = {
  'python3.14': profile('python3.14', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31'),
  'python3.13': profile('python3.13', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31'),
  'python3.12': profile('python3.12', 'Amazon Linux 2023', '2028-10-31', '2028-11-30', '2029-01-10'),
  'python3.11': profile('python3.11', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31'),
  'python3.10': profile('python3.10', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31'),
  'provided.al2023': osOnly('provided.al2023', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31'),
  'provided.al2': osOnly('provided.al2', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31'),
}

export const RUNTIME_IDS = Object.keys(RUNTIME_PROFILES) as RuntimeId[]
/** The Python profiles: the ones `check` can run (its scenarios' function is Python). */
export const PYTHON_RUNTIME_IDS = RUNTIME_IDS.filter((id) => RUNTIME_PROFILES[id].family === 'python')
export const DEFAULT_RUNTIME: RuntimeId = 'python3.12'

export function isRuntimeId(value: string): value is RuntimeId {
  return Object.hasOwn(RUNTIME_PROFILES, value)
}

/** What AWS's table says about this profile on `today`, as warnings a user should read. */
export function lifecycleWarnings(p: RuntimeProfile, today: Date): string[] {
  const day = today.toISOString().slice(0, 10)
  if (day > p.blockUpdate) {
    return [
      `runtime ${p.id} was deprecated on ${p.deprecation}; since ${p.blockCreate} Lambda refuses to create ` +
        `and since ${p.blockUpdate} to update functions on it`,
    ]
  }
  if (day > p.blockCreate) {
    return [`runtime ${p.id} was deprecated on ${p.deprecation}; since ${p.blockCreate} Lambda refuses to create functions on it, and from ${p.blockUpdate} to update them`]
  }
  if (day > p.deprecation) {
    return [`runtime ${p.id} was deprecated on ${p.deprecation}; Lambda blocks creating functions on it from ${p.blockCreate}`]
  }
  return []
}
