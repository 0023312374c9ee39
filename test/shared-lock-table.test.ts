/**
 * The shared lock table answers as FileLockManagerInMemory (@php-wasm/universal) does: every case
 * runs against both, and both must give the expected answers. Then what only the table has: a
 * fixed capacity, and the path guard against a hash collision of a process's own files.
 */
import t from 'tap';
import { FileLockManagerInMemory, MAX_ADDRESSABLE_FILE_OFFSET, type FileLockManager } from '@php-wasm/universal';
import { createLockTableBuffer, LOCK_TO_END_OF_FILE, SharedLockTable } from '../server/pool/lock-table/shared-lock-table.js';
import { OwnPathGuard } from '../server/pool/lock-table/own-path-guard.js';
import { runStep, type Step } from './helpers/lock-steps.js';

const ROOT = '/srv/site';
const END = MAX_ADDRESSABLE_FILE_OFFSET;
// SQLite's lock bytes (os_unix.c): PENDING, RESERVED, then 510 SHARED bytes.
const PENDING = '1073741824-1073741825';
const RESERVED = '1073741825-1073741826';
const SHARED = '1073741826-1073742336';

const CASES: Record<string, Step[]> = {
  'flock exclusive: one pid/fd holds it, others are refused': [
    ['flock 1/10 ex', true], ['flock 2/20 ex', false], ['flock 2/20 sh', false], ['flock 1/11 ex', false],
    ['flock 1/10 ex', true], ['flock 1/10 un', true], ['flock 2/20 ex', true],
  ],
  'flock shared: many holders, exclusive waits for all of them': [
    ['flock 1/10 sh', true], ['flock 2/20 sh', true], ['flock 3/30 ex', false],
    ['flock 1/10 un', true], ['flock 3/30 ex', false], ['flock 2/20 un', true], ['flock 3/30 ex', true],
  ],
  'flock: a lone shared holder upgrades; not while another shares': [
    ['flock 1/10 sh', true], ['flock 1/10 ex', true], ['flock 2/20 sh', false], ['flock 1/10 sh', true], ['flock 2/20 sh', true], ['flock 1/10 ex', false],
  ],
  'flock: a process\'s exclusive on a second fd replaces its shared one': [
    ['flock 1/10 sh', true], ['flock 1/11 ex', true], ['flock 1/10 un', true], ['flock 2/20 sh', false], ['flock 1/11 un', true], ['flock 2/20 sh', true],
  ],
  'flock: a process\'s shared on a second fd turns its exclusive shared': [
    ['flock 1/10 ex', true], ['flock 1/11 sh', true], ['flock 2/20 sh', true], ['flock 3/30 ex', false], ['flock 1/10 un', true], ['flock 3/30 ex', false],
  ],
  'flock: unlocking with another fd or pid changes nothing': [
    ['flock 1/10 ex', true], ['flock 1/11 un', true], ['flock 2/10 un', true], ['flock 2/20 sh', false],
  ],
  'flock and fcntl: an exclusive flock conflicts with any range, even the process\'s own': [
    ['fcntl 1/10 wr 0-10', true], ['flock 2/20 ex', false], ['flock 2/20 sh', false], ['flock 1/10 ex', false],
    ['fcntl 1/10 un 0-10', true], ['flock 2/20 ex', true], ['fcntl 3/30 rd 5-6', false], ['fcntl 2/20 rd 5-6', false],
    ['getlk 3 rd 0-1', 'exclusive 0-0 pid -1'],
  ],
  'flock and fcntl: a shared flock admits read ranges, not write ones': [
    ['fcntl 1/10 rd 0-10', true], ['flock 2/20 sh', true], ['flock 3/30 ex', false], ['fcntl 4/40 wr 20-30', false],
    ['getlk 4 wr 20-30', 'shared 0-0 pid -1'], ['getlk 4 rd 20-30', 'none'], ['fcntl 4/40 rd 20-30', true],
  ],
  'fcntl: ranges conflict only where they overlap, write against anything': [
    ['fcntl 1/10 wr 0-10', true], ['fcntl 2/20 wr 10-20', true], ['fcntl 2/20 rd 5-15', false], ['getlk 2 rd 5-15', 'exclusive 0-10 pid 1'],
    ['getlk 1 wr 0-10', 'none'], ['fcntl 3/30 rd 20-30', true], ['fcntl 4/40 rd 25-26', true], ['fcntl 5/50 wr 25-26', false],
    ['getlk 5 wr 29-40', 'shared 20-30 pid 3'], ['getlk 5 rd 29-40', 'none'],
  ],
  'fcntl: unlocking the middle of a range splits it': [
    ['fcntl 1/10 wr 0-100', true], ['fcntl 1/10 un 40-60', true], ['getlk 2 wr 0-10', 'exclusive 0-40 pid 1'], ['getlk 2 wr 45-55', 'none'],
    ['getlk 2 wr 90-95', 'exclusive 60-100 pid 1'], ['fcntl 2/20 wr 40-60', true], ['fcntl 1/10 un 0-50', true], ['getlk 3 rd 0-40', 'none'],
  ],
  'fcntl: a process\'s overlapping ranges merge into the newest lock\'s type': [
    ['fcntl 1/10 rd 0-10', true], ['fcntl 1/11 rd 5-20', true], ['getlk 2 wr 15-16', 'shared 0-20 pid 1'],
    ['fcntl 1/10 wr 8-12', true], ['getlk 2 rd 0-1', 'exclusive 0-20 pid 1'], ['fcntl 1/10 rd 0-20', true], ['getlk 2 rd 0-1', 'none'],
    ['fcntl 1/10 wr 20-30', true], ['getlk 2 rd 0-1', 'none'], ['getlk 2 rd 25-26', 'exclusive 20-30 pid 1'],
  ],
  'fcntl: a zero length locks to the end of the file': [
    ['fcntl 1/10 wr 100-100', true], ['getlk 2 rd 5000-5001', `exclusive 100-${END} pid 1`], ['fcntl 2/20 rd 50-100', true], ['fcntl 1/10 un 0-0', true], ['fcntl 2/20 wr 0-0', true],
  ],
  'fcntl: only the owner unlocks its ranges': [
    ['fcntl 1/10 wr 0-10', true], ['fcntl 2/20 un 0-10', true], ['fcntl 3/30 rd 0-5', false],
  ],
  'close: drops all of the process\'s ranges on that file and that fd\'s flock': [
    ['fcntl 1/10 wr 0-10', true], ['fcntl 1/11 wr 20-30', true], ['fcntl 1/10 wr 0-10 b', true], ['flock 1/10 sh c', true],
    ['close 1/12', undefined], ['getlk 2 wr 0-100', 'none'], ['getlk 2 wr 0-100 b', 'exclusive 0-10 pid 1'],
    ['close 1/11 c', undefined], ['flock 2/20 ex c', false], ['close 1/10 c', undefined], ['flock 2/20 ex c', true],
  ],
  'exit: frees everything of the process, nothing of the others': [
    ['flock 1/10 sh', true], ['flock 2/20 sh', true], ['fcntl 1/10 wr 0-10 b', true], ['fcntl 2/20 wr 20-30 b', true],
    ['exit 1', undefined], ['flock 3/30 ex', false], ['getlk 3 wr 0-10 b', 'none'], ['getlk 3 wr 0-100 b', 'exclusive 20-30 pid 2'],
    ['exit 2', undefined], ['flock 3/30 ex', true], ['fcntl 3/30 wr 0-0 b', true],
  ],
  'files are independent': [
    ['flock 1/10 ex a', true], ['flock 2/20 ex b', true], ['fcntl 3/30 wr 0-10 c', true], ['fcntl 4/40 wr 0-10 d', true],
  ],
  'SQLite: readers share, one writer reserves, the writer waits for readers to leave': [
    [`fcntl 1/10 rd ${PENDING}`, true], [`fcntl 1/10 rd ${SHARED}`, true], [`fcntl 1/10 un ${PENDING}`, true],
    [`fcntl 2/20 rd ${PENDING}`, true], [`fcntl 2/20 rd ${SHARED}`, true], [`fcntl 2/20 un ${PENDING}`, true],
    [`fcntl 1/10 wr ${RESERVED}`, true], [`fcntl 2/20 wr ${RESERVED}`, false], [`fcntl 1/10 wr ${PENDING}`, true],
    [`fcntl 1/10 wr ${SHARED}`, false], [`fcntl 3/30 rd ${PENDING}`, false], ['fcntl 2/20 un 0-0', true], [`fcntl 1/10 wr ${SHARED}`, true],
    [`getlk 3 rd ${SHARED}`, `exclusive ${SHARED} pid 1`], ['fcntl 1/10 un 0-0', true], [`fcntl 3/30 wr ${SHARED}`, true],
  ],
};

function answers(manager: FileLockManager, steps: Step[]): Array<boolean | string | undefined> {
  return steps.map(([step]) => runStep(manager, step, ROOT));
}

for (const [name, steps] of Object.entries(CASES)) {
  t.test(name, async (t) => {
    const expected = steps.map(([, answer]) => answer);
    t.same(answers(new FileLockManagerInMemory(), steps), expected, 'FileLockManagerInMemory');
    const table = new SharedLockTable(createLockTableBuffer(64));
    t.same(answers(table, steps), expected, 'SharedLockTable');
  });
}

t.test("a lock to the end of the file ends where @php-wasm/universal's does", async (t) => {
  t.equal(LOCK_TO_END_OF_FILE, MAX_ADDRESSABLE_FILE_OFFSET);
});

t.test('the tables forget released locks: a run of cases leaves nothing behind', async (t) => {
  const table = new SharedLockTable(createLockTableBuffer(64));
  for (const steps of Object.values(CASES)) {
    answers(table, steps);
    for (let pid = 1; pid <= 5; pid++) table.releaseLocksForProcess(pid);
  }
  t.equal(table.size(), 0);
});

t.test('capacity: when every slot is taken a lock is refused, never granted unrecorded', async (t) => {
  const table = new SharedLockTable(createLockTableBuffer(4));
  const steps: Step[] = [
    ['flock 1/10 ex a', true], ['flock 2/20 sh b', true], ['fcntl 3/30 rd 0-10 c', true], ['fcntl 4/40 wr 0-10 d', true],
    ['flock 5/50 sh b', false], ['fcntl 5/50 rd 0-10 c', false], ['flock 5/50 ex e', false],
    // Own locks that replace or merge need no new slot.
    ['flock 2/20 ex b', true], ['fcntl 3/30 wr 5-20 c', true], ['getlk 6 rd 15-16 c', 'exclusive 0-20 pid 3'],
    // A split needs one: without it the range stays locked whole (too much, never too little).
    ['fcntl 3/30 un 8-12 c', true], ['getlk 6 rd 9-10 c', 'exclusive 0-20 pid 3'],
    // A released slot is free again.
    ['exit 1', undefined], ['fcntl 3/30 un 8-12 c', true], ['getlk 6 rd 9-10 c', 'none'], ['getlk 6 rd 0-1 c', 'exclusive 0-8 pid 3'],
    ['flock 5/50 ex e', false], ['exit 4', undefined], ['flock 5/50 ex e', true],
  ];
  t.same(answers(table, steps), steps.map(([, answer]) => answer));
  t.equal(table.size(), 4);
});

t.test('own-path guard: a second path with the same key is refused while the first is held', async (t) => {
  const guard = new OwnPathGuard();
  const key = { high: 1, low: 2 };
  guard.holding(7, key, '/site/a');
  t.equal(guard.collides(7, key, '/site/a'), false, 'the same path');
  t.equal(guard.collides(7, key, '/site/b'), true, 'another path, same key, same process');
  t.equal(guard.collides(8, key, '/site/b'), false, 'another process: only an extra conflict in the table');
  guard.released(7, key);
  t.equal(guard.collides(7, key, '/site/b'), false, 'once released');
  guard.holding(7, key, '/site/b');
  guard.releasedAll(7);
  t.equal(guard.collides(7, key, '/site/a'), false, 'after the process released all');
});
