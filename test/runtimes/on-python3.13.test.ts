// The client tests on Debian trixie's Python 3.13 (on-interpreter.ts).
import t from 'tap'
import { CLIENT_TESTS, clientTestsOn } from './on-interpreter.js'

clientTestsOn(t, 'trixie', '/usr/bin/python3.13', CLIENT_TESTS)
