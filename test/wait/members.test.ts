import t from 'tap'
import { Members } from '../../harness/wait/index.js'

t.test('members come and go in any order; values() and take() list them oldest first', async (t) => {
  const members = new Members<string>()
  const leaveA = members.add('a')
  const leaveB = members.add('b')
  const leaveC = members.add('c')
  t.same(members.values(), ['a', 'b', 'c'])
  leaveB()
  leaveB() // a second leave is a no-op
  t.same(members.values(), ['a', 'c'])
  t.equal(members.size, 2)
  leaveC() // the newest
  t.same(members.values(), ['a'])
  const leaveD = members.add('d')
  leaveA() // the oldest
  t.same(members.values(), ['d'])
  t.same(members.take(), ['d'])
  t.equal(members.size, 0)
  t.same(members.values(), [])
  leaveD() // after take(): nothing to leave, and nothing else is touched
  const leaveE = members.add('e')
  leaveD()
  t.same(members.values(), ['e'])
  leaveE()
  t.equal(members.size, 0)
})

t.test('a member added while take() hands the others out stays for the next round', async (t) => {
  const members = new Members<() => void>()
  const seen: string[] = []
  members.add(() => {
    seen.push('first')
    members.add(() => seen.push('late'))
  })
  members.add(() => seen.push('second'))
  for (const each of members.take()) {
    each()
  }
  t.same(seen, ['first', 'second'])
  t.equal(members.size, 1)
  for (const each of members.take()) {
    each()
  }
  t.same(seen, ['first', 'second', 'late'])
})
