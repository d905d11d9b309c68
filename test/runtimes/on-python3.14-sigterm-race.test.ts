// sigterm-race.test on Debian sid's Python 3.14: SIGTERM handlers under load (on-interpreter.ts).
import t from 'tap'
import { clientTestsOn } from './on-interpreter.js'

clientTestsOn(t, 'sid', '/usr/bin/python3.14', ['sigterm-race'])
