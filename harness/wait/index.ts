// Waiting helpers with a plain API, shared by the lifecycle phases, the API server and the sandbox.
export { deferred, type Deferred } from './deferred.js'
export { Members } from './members.js'
export { Deadline, REAL_TIMERS, waitFor, type Timers, type WaitOptions, type WaitResult } from './wait-for.js'
