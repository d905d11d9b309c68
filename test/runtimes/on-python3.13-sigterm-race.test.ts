// sigterm-race.test on Debian trixie's Python 3.13: SIGTERM handlers under load (on-interpreter.ts).
import t from 'tap'
import { clientTestsOn } from './on-interpreter.js'

clientTestsOn(t, 'trixie', '/usr/bin/python3.13', ['sigterm-race'])
