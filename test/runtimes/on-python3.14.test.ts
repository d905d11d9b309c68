// The client tests on Debian sid's Python 3.14 (on-interpreter.ts).
import t from 'tap'
import { CLIENT_TESTS, clientTestsOn } from './on-interpreter.js'

clientTestsOn(t, 'sid', '/usr/bin/python3.14', CLIENT_TESTS)
