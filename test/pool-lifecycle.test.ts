/**
 * The pool's policies as state-machine transitions, with fake workers and a fake clock: every
 * timer fires at its exact time and every worker's phases are recorded, so a broken transition or a
 * timer off by one fails here, fast and the same way every run.
 */
import { pino } from 'pino';
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { PoolError, WORKER_YOUNG_GENERATION_MB, workerThreadOptions, type PhpResponse, type ReloadableSettings } from '../server/pool/pool.js';
import { IllegalTransition, WORKER_PHASES, WorkerLifecycle, allowedTransition } from '../server/pool/worker-lifecycle.js';
import { settle } from './helpers/fake-clock.js';
import { FAKE_BOOT, FAKE_JOB, closeFakePool, fakePool } from './helpers/fake-workers.js';
import { until } from './helpers/until.js';
import { tempDir } from './helpers/server.js';

/** A request's outcome, observable before it settles. */
function track(promise: Promise<PhpResponse>): { settled: boolean; result: Promise<PhpResponse | PoolError> } {
  const tracked = { settled: false, result: undefined as unknown as Promise<PhpResponse | PoolError> };
  tracked.result = promise.then((response) => response, (error: PoolError) => error).finally(() => { tracked.settled = true; });
  return tracked;
}

const body = (response: PhpResponse | PoolError) => (response instanceof PoolError ? `error ${response.status}` : response.whole?.toString());
const job = (path: string) => ({ ...FAKE_JOB, relativeUri: path });

t.test('the lifecycle allows exactly booting → warming → idle ⇄ busy → retiring → gone, idle ⇄ resetting, and gone from any live phase', async (t) => {
  const allowed = new Set(['booting→warming', 'warming→idle', 'idle→busy', 'busy→idle', 'busy→retiring', 'retiring→gone', 'booting→gone', 'warming→gone', 'idle→gone', 'busy→gone',
    'idle→resetting', 'resetting→idle', 'resetting→gone']);
  for (const from of WORKER_PHASES) {
    for (const to of WORKER_PHASES) t.equal(allowedTransition(from, to), allowed.has(`${from}→${to}`), `${from}→${to}`);
  }
  const lifecycle = new WorkerLifecycle(7);
  let booted = false;
  void lifecycle.booted.then(() => { booted = true; });
  await settle();
  t.notOk(booted, 'not booted while booting');
  lifecycle.moveTo('warming');
  await settle();
  t.ok(booted, 'booted once it left booting');
  const refused = (() => { try { lifecycle.moveTo('busy'); } catch (error) { return error; } })();
  t.ok(refused instanceof IllegalTransition, 'a warming worker cannot take a request');
  t.equal(lifecycle.phase, 'warming', 'a refused transition changes nothing');
  lifecycle.moveTo('gone');
  t.throws(() => lifecycle.moveTo('idle'), /cannot go from gone to idle/, 'nothing comes back from gone');
});

t.test('a worker serves, idles, and leaves when the pool closes: every phase in order', async (t) => {
  const fake = fakePool({});
  await fake.pool.start();
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${fake.workers[0]!.processId}`);
  await fake.pool.close(0);
  t.same(fake.phases.get(fake.workers[0]!.processId), ['booting→warming', 'warming→idle', 'idle→busy', 'busy→idle', 'idle→gone']);
  t.same(fake.exits, ['closed']);
});

t.test('the queue is first in, first out, refuses past its limit at once, and gives up at exactly queueTimeoutMs', async (t) => {
  const fake = fakePool({ queueLimit: 2, queueTimeoutMs: 1000, requestTimeoutMs: 60_000 }, ['hang']);
  await fake.pool.start();
  const [worker] = fake.workers;
  const running = track(fake.pool.run(job('/a'), null));
  const second = track(fake.pool.run(job('/b'), null));
  const third = track(fake.pool.run(job('/c'), null));
  const refused = await fake.pool.run(job('/d'), null).catch((error: PoolError) => error);
  t.ok(refused instanceof PoolError && refused.status === 503 && refused.retryAfterSeconds === 15, '503 at once past the queue limit, Retry-After a quarter of the request timeout');

  worker!.answer();
  await settle();
  t.equal(body(await running.result), `worker ${worker!.processId}`);
  t.same(worker!.runs.map((run) => run.job.relativeUri), ['/a', '/b'], 'the first waiting request went first');
  await fake.clock.advance(999);
  t.notOk(third.settled, 'the third still waits at 999 ms');
  await fake.clock.advance(1);
  const timedOut = await third.result;
  t.ok(timedOut instanceof PoolError && timedOut.status === 503, 'and gets 503 at 1000 ms');
  t.equal(fake.pool.stats.queued, 0, 'it left the queue');
  worker!.answer();
  t.equal(body(await second.result), `worker ${worker!.processId}`, 'the request that got the worker is unaffected');
  await closeFakePool(fake);
});

t.test('a request timeout: 504 at exactly the limit, the replacement starts at once, the answer waits at most 250 ms for the thread to stop', async (t) => {
  const fake = fakePool({ requestTimeoutMs: 5000 }, ['hang']);
  await fake.pool.start();
  const [stuck] = fake.workers;
  const request = track(fake.pool.run(FAKE_JOB, null));
  await fake.clock.advance(4999);
  t.notOk(stuck!.terminated, 'not stopped at 4999 ms');
  await fake.clock.advance(1);
  t.ok(stuck!.terminated, 'told to stop at 5000 ms');
  await until('the replacement to start', () => fake.workers.length === 2);
  t.notOk(request.settled, 'the answer waits for the thread to stop…');
  await fake.clock.advance(249);
  t.notOk(request.settled, '…for up to 250 ms');
  await fake.clock.advance(1);
  const answer = await request.result;
  t.ok(answer instanceof PoolError && answer.status === 504, 'then 504, though the thread has not stopped');
  await until('the replacement to be idle', () => fake.pool.stats.idle === 1);
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${fake.workers[1]!.processId}`, 'the replacement serves the next request');
  t.same(fake.phases.get(stuck!.processId)?.slice(-2), ['idle→busy', 'busy→gone']);
  t.same(fake.exits, ['timeout']);
  await closeFakePool(fake);
});

t.test('time PHP spends blocked on a slow client does not count against the request timeout', async (t) => {
  const fake = fakePool({ requestTimeoutMs: 1000 }, ['hang']);
  await fake.pool.start();
  const [worker] = fake.workers;
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined);
  await settle();
  worker!.blockedOnClient(400);
  await fake.clock.advance(1399);
  t.notOk(worker!.terminated, 'still running at 1399 ms: 400 of them were spent waiting for the client');
  await fake.clock.advance(1);
  t.ok(worker!.terminated, 'stopped at 1000 ms of its own time');
  await closeFakePool(fake);
});

t.test('a crash while busy: 502 for its request, a replacement at once; a crash while warming is retried once, not twice', async (t) => {
  const fake = fakePool({ warmup: [FAKE_JOB] }, ['answer', 'hang', 'answer']);
  await fake.pool.start();
  const [first] = fake.workers;
  const request = fake.pool.run(FAKE_JOB, null);
  first!.crash();
  const answer = await request.catch((error: PoolError) => error);
  t.ok(answer instanceof PoolError && answer.status === 502, '502 for the request it held');
  await until('the replacement to start warming', () => fake.workers[1]?.runs.length === 1);
  t.equal(fake.pool.stats.starting, 1, 'one replacement');
  fake.workers[1]!.crash(); // dies during its warm-up
  await fake.clock.advance(250); // its warm-up job's answer waits up to 250 ms for the thread to stop
  t.equal(fake.workers.length, 2, 'no replacement for the replacement yet');
  await fake.clock.advance(1000); // the first back-off pause (500 ms × 2)
  await until('the next replacement to be idle', () => fake.pool.stats.idle === 1);
  t.equal(fake.workers.length, 3, 'exactly one more worker was started for the failed warm-up');
  t.same(fake.phases.get(fake.workers[1]!.processId), ['booting→warming', 'warming→gone']);
  t.same(fake.exits, ['crashed', 'failed-to-start']);
  await closeFakePool(fake);
});

t.test('at start the first worker boots and warms alone; the others start once it is warm', async (t) => {
  const fake = fakePool({ size: 3, warmup: [FAKE_JOB] }, ['slow-boot']);
  let started = false;
  const starting = fake.pool.start().then(() => { started = true; });
  await settle();
  t.equal(fake.workers.length, 1, 'one thread while the first boots');
  fake.workers[0]!.boot();
  await starting;
  t.same(fake.phases.get(fake.workers[0]!.processId), ['booting→warming', 'warming→idle'], 'the first was warm before the others');
  t.equal(fake.workers.length, 3, 'the others were started as it became warm');
  t.ok(started && fake.pool.readiness === 'ready', 'start() resolved with the first warm');
  await until('all three to be idle', () => fake.pool.stats.idle === 3);
  await closeFakePool(fake);
});

t.test('at start, requests that wait while the first worker boots are its warm-up; the others start after its first request', async (t) => {
  const fake = fakePool({ size: 2, warmup: [FAKE_JOB], maxWorkerMemoryGrowth: 10 }, ['slow-boot-hang']);
  const starting = fake.pool.start();
  await settle();
  const visitor = fake.pool.run(job('/visitor.php'), null);
  await settle();
  t.equal(fake.pool.readiness, 'starting', 'not ready while the first boots');
  const first = fake.workers[0]!;
  first.boot();
  await until('the first to take a request', () => first.runs.length === 1);
  t.equal(first.runs[0]!.job.relativeUri, '/visitor.php', "the visitor's request, not the warm-up");
  t.same(fake.phases.get(first.processId), ['booting→warming', 'warming→idle', 'idle→busy'], 'no warm-up job ran');
  await settle();
  t.equal(fake.workers.length, 1, 'the other waits until that page is done (its CPU is the first page\'s)');
  first.memoryBytes = 50; // what the page left: growth counts from here, not from the boot's 1 byte
  first.answer();
  t.equal(body(await visitor), `worker ${first.processId}`, 'the visitor got the page');
  await starting;
  await until('the second worker to start', () => fake.workers.length === 2);
  const second = fake.workers[1]!;
  await until('both to be idle', () => fake.pool.stats.idle === 2 && second.runs.length === 1);
  t.equal(second.runs[0]!.job.relativeUri, FAKE_JOB.relativeUri, 'with a worker serving, the second warms up as usual');
  const next = fake.pool.run(job('/next.php'), null);
  await until('the first to take the next request', () => first.runs.length === 2);
  first.memoryBytes = 55;
  first.answer();
  await next;
  t.same(fake.exits, [], 'no recycle: 5 bytes of growth since its first page');
  await closeFakePool(fake);
});

t.test('at start, a slow first page holds the other workers back 2 s at most, and a self-call not at all', async (t) => {
  const slow = fakePool({ size: 2, warmup: [FAKE_JOB] }, ['slow-boot-hang']);
  const starting = slow.pool.start();
  await settle();
  const visitor = slow.pool.run(job('/slow.php'), null);
  slow.workers[0]!.boot();
  await until('the first to take the visitor', () => slow.workers[0]!.runs.length === 1);
  await slow.clock.advance(1999);
  t.equal(slow.workers.length, 1, 'still one worker at 1999 ms');
  await slow.clock.advance(1);
  await starting;
  t.equal(slow.workers.length, 2, 'the other starts at 2 s though the page still runs');
  slow.workers[0]!.answer();
  await visitor;
  await closeFakePool(slow);

  const calling = fakePool({ size: 2, selfCallWorkers: 1, warmup: [FAKE_JOB] }, ['slow-boot-hang']);
  const started = calling.pool.start();
  await settle();
  const page = calling.pool.run(job('/calls-itself.php'), null);
  calling.workers[0]!.boot();
  await until('the first to take the page', () => calling.workers[0]!.runs.length === 1);
  const selfCall = calling.pool.run(job('/wp-cron.php'), null, undefined, { selfCall: true });
  await started;
  t.equal(calling.workers.length, 2, 'the other pool worker started at once, before the 2 s');
  t.equal(calling.pool.stats.selfCallWorkers, 0, 'and no self-call worker: the held-back worker was counted on');
  await until('the self-call to be served', () => calling.workers[1]!.runs.some((run) => run.job.relativeUri === '/wp-cron.php'));
  await selfCall;
  calling.workers[0]!.answer();
  await page;
  t.equal(calling.workers.length, 2, 'still two threads');
  await closeFakePool(calling);
});

t.test('at start, a first worker that fails does not hold the others back; one that is alone makes start() fail', async (t) => {
  const fake = fakePool({ size: 2 }, ['fail-boot', 'answer']);
  await fake.pool.start();
  t.equal(fake.pool.readiness, 'ready', 'serving with the second');
  await closeFakePool(fake);
  const alone = fakePool({ size: 1 }, ['fail-boot']);
  await t.rejects(alone.pool.start(), /fake boot failure/);
  await closeFakePool(alone);
});

t.test('failed starts are retried after 1, 2, 4 s, and the pause resets once one starts', async (t) => {
  const fake = fakePool({}, ['answer', 'fail-boot', 'fail-boot', 'fail-boot', 'answer']);
  await fake.pool.start();
  fake.workers[0]!.crash();
  await until('the first replacement to fail', () => fake.exits.length === 2);
  for (const [pause, started] of [[1000, 3], [2000, 4], [4000, 5]] as const) {
    await fake.clock.advance(pause - 1);
    t.equal(fake.workers.length, started - 1, `no new attempt before ${pause} ms`);
    await fake.clock.advance(1);
    await until(`attempt ${started}`, () => fake.workers.length === started);
    t.pass(`attempt ${started} after ${pause} ms`);
  }
  await until('the last one to serve', () => fake.pool.readiness === 'ready' && fake.pool.stats.idle === 1);
  t.same(fake.clock.pending, [], 'no retry left pending once one started');
  await closeFakePool(fake);
});

t.test('recycling: the worker serves on while its successor boots, then leaves as soon as it is free', async (t) => {
  const fake = fakePool({ maxRequests: 2 }, ['answer', 'slow-boot']);
  await fake.pool.start();
  const [old] = fake.workers;
  await fake.pool.run(FAKE_JOB, null);
  await fake.pool.run(FAKE_JOB, null); // its quota: a successor starts
  await until('the successor to start booting', () => fake.workers.length === 2);
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${old!.processId}`, 'no request waits for the successor: the old worker takes it');
  fake.workers[1]!.boot();
  await until('the old worker to leave', () => old!.terminated);
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${fake.workers[1]!.processId}`, 'the successor serves from then on');
  t.same(fake.phases.get(old!.processId)?.slice(-2), ['busy→idle', 'idle→gone'], 'it left from idle');
  t.same(fake.exits, ['recycled']);
  await closeFakePool(fake);
});

t.test('recycling in place: after its quota the worker is reset between requests, then after resetsPerThread resets its thread is replaced', async (t) => {
  const fake = fakePool({ maxRequests: 2, warmImages: true, resetsPerThread: 2 });
  t.teardown(() => closeFakePool(fake));
  await fake.pool.start();
  const [only] = fake.workers;
  await until('the warm image', async () => {
    await fake.pool.run(FAKE_JOB, null); // a worker is reset only once an image exists: until then, its quota needs a successor
    return only!.resets.length === 1 || fake.workers.length > 1;
  });
  t.equal(fake.workers.length, 1, 'no successor: the worker was reset in place');
  t.same(fake.phases.get(only!.processId)?.slice(-2), ['busy→idle', 'idle→resetting'], 'once its last request was done');
  await until('it to serve again', () => fake.pool.stats.idle === 1);
  for (let i = 0; i < 2; i++) t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${only!.processId}`, 'the same worker serves on');
  await until('its second reset to end', () => only!.resets.length === 2 && fake.pool.stats.idle === 1);
  t.same(fake.exits, [], 'no worker left');
  for (let i = 0; i < 2; i++) await fake.pool.run(FAKE_JOB, null);
  await until('its thread to be replaced', () => only!.terminated);
  t.equal(only!.resets.length, 2, 'after two resets, the third recycle replaced the thread');
  t.same(fake.exits, ['recycled']);
});

t.test('a reset that does not answer in time, or breaks half-way, ends the worker and another takes its place; one refused leaves it serving until its successor is warm', async (t) => {
  for (const behaviour of ['hang', 'break', 'fail', 'refuse'] as const) {
    const fake = fakePool({ maxRequests: 2, warmImages: true, resetsPerThread: 5, requestTimeoutMs: 1_000 }, ['answer', 'slow-boot']);
    t.teardown(() => closeFakePool(fake));
    await fake.pool.start();
    const [old] = fake.workers;
    old!.resetBehaviour = behaviour;
    await until('a reset to be asked', async () => {
      await fake.pool.run(FAKE_JOB, null);
      return old!.resets.length === 1;
    });
    const waiting = track(fake.pool.run(FAKE_JOB, null));
    await settle();
    if (behaviour === 'hang') {
      t.equal(old!.runs.length % 2, 0, `${behaviour}: a resetting worker takes no request`);
      t.notOk(waiting.settled);
      await fake.clock.advance(1_000);
    }
    await until(`${behaviour}: a successor to start`, () => fake.workers.length === 2);
    if (behaviour === 'refuse') {
      t.equal(body(await waiting.result), `worker ${old!.processId}`, 'refused: the old worker serves on meanwhile');
      t.notOk(old!.terminated);
    } else {
      await until('the old worker to end', () => old!.terminated);
      t.notOk(waiting.settled, `${behaviour}: the request waits for the replacement, it is not failed`);
    }
    fake.workers[1]!.boot();
    if (behaviour !== 'refuse') t.equal(body(await waiting.result), `worker ${fake.workers[1]!.processId}`, `${behaviour}: the replacement serves it`);
    await until('the old worker to be gone', () => old!.terminated);
    t.same(fake.exits, ['recycled'], `${behaviour}: it left as recycled`);
    // Only a failure while the image's pages were written blames the image.
    const imageKept = fake.bootImages.get(fake.workers[1]!.processId) !== undefined;
    t.equal(imageKept, behaviour !== 'break', `${behaviour}: the replacement ${behaviour === 'break' ? 'starts without' : 'starts from'} the image`);
  }
});

t.test('recycling a busy worker: busy → retiring → gone, its request completes, nothing new reaches it', async (t) => {
  const fake = fakePool({ maxRequests: 1 }, ['hang', 'answer']);
  await fake.pool.start();
  const [old] = fake.workers;
  const last = fake.pool.run(FAKE_JOB, null); // its quota at once: the successor starts
  await until('the successor to serve', () => fake.pool.stats.idle === 1);
  t.equal(fake.phases.get(old!.processId)?.at(-1), 'busy→retiring', 'the old one runs its last request');
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${fake.workers[1]!.processId}`, 'a new request goes to the successor');
  t.equal(old!.runs.length, 1, 'not to the retiring worker');
  old!.answer();
  t.equal(body(await last), `worker ${old!.processId}`, 'its last request completes');
  t.equal(fake.phases.get(old!.processId)?.at(-1), 'retiring→gone');
  t.same(fake.exits, ['recycled']);
  await closeFakePool(fake);
});

t.test('a request that grows the worker past maxWorkerMemoryGrowth recycles it', async (t) => {
  const fake = fakePool({ maxWorkerMemoryGrowth: 100 });
  await fake.pool.start();
  const [worker] = fake.workers;
  worker!.memoryBytes = 101; // booted at 1: this is growth by 100, not past it
  await fake.pool.run(FAKE_JOB, null);
  t.equal(fake.workers.length, 1, 'growth up to the limit keeps it');
  worker!.memoryBytes = 102;
  await fake.pool.run(FAKE_JOB, null);
  await until('the successor to take over', () => worker!.terminated);
  t.same(fake.exits, ['memory']);
  await closeFakePool(fake);
});

t.test('a worker due for a reset whose last request grew it past maxWorkerMemoryGrowth is replaced for memory instead', async (t) => {
  const fake = fakePool({ maxRequests: 2, warmImages: true, resetsPerThread: 5, maxWorkerMemoryGrowth: 100 });
  t.teardown(() => closeFakePool(fake));
  await fake.pool.start();
  const [worker] = fake.workers;
  await fake.pool.run(FAKE_JOB, null);
  worker!.memoryBytes = 102; // its quota's request grows it by 101
  await fake.pool.run(FAKE_JOB, null);
  await until('the successor to take over', () => worker!.terminated);
  t.same(worker!.resets, [], 'no reset: wasm memory would not shrink');
  t.same(fake.exits, ['memory']);
});

t.test('close during a reset: the worker is stopped, nothing waits for its answer', async (t) => {
  const fake = fakePool({ maxRequests: 1, warmImages: true, resetsPerThread: 5 });
  await fake.pool.start();
  const [worker] = fake.workers;
  worker!.resetBehaviour = 'hang';
  await settle(); // its image is written
  await fake.pool.run(FAKE_JOB, null); // its quota
  await until('a reset under way', () => worker!.resets.length === 1);
  t.equal(fake.phases.get(worker!.processId)?.at(-1), 'idle→resetting');
  await closeFakePool(fake);
  t.ok(worker!.terminated, 'stopped');
  t.same(fake.exits, ['closed']);
  t.same(fake.clock.pending, [], 'its reset timer went with it');
});

t.test('close: queued requests get 503 at once, the running one may finish within the grace period', async (t) => {
  const fake = fakePool({}, ['hang']);
  await fake.pool.start();
  const [worker] = fake.workers;
  const running = track(fake.pool.run(FAKE_JOB, null));
  const queued = track(fake.pool.run(FAKE_JOB, null));
  const closed = fake.pool.close(5000);
  const refused = await queued.result;
  t.ok(refused instanceof PoolError && refused.status === 503, 'the queued request: 503');
  await fake.clock.advance(4999);
  t.notOk(worker!.terminated, 'the running one is given the grace period');
  worker!.answer();
  worker!.finishTerminate();
  t.equal(body(await running.result), `worker ${worker!.processId}`, 'and completes');
  await closed;
  t.ok(worker!.terminated, 'then the worker is stopped');
  t.equal((await fake.pool.run(FAKE_JOB, null).catch((error: PoolError) => error)).status, 503, 'new work: 503');
});

t.test('close: past the grace period the running request is cut (503) and the worker stopped', async (t) => {
  const fake = fakePool({}, ['hang']);
  await fake.pool.start();
  const [worker] = fake.workers;
  const running = track(fake.pool.run(FAKE_JOB, null));
  const closed = fake.pool.close(1000);
  await fake.clock.advance(999);
  t.notOk(worker!.terminated, 'not before the grace period ends');
  await fake.clock.advance(1);
  t.ok(worker!.terminated, 'stopped when it ends');
  await fake.clock.advance(250);
  const cut = await running.result;
  t.ok(cut instanceof PoolError && cut.status === 503, 'the request gets 503');
  worker!.finishTerminate();
  await closed;
  t.same(fake.exits, ['closed']);
});

t.test('fewer workers by reload: a busy surplus worker retires after its request; an idle one leaves at once', async (t) => {
  const fake = fakePool({ size: 2 }, ['hang', 'hang']);
  await fake.pool.start();
  await until('both to be idle', () => fake.pool.stats.idle === 2);
  const first = fake.pool.run(FAKE_JOB, null);
  const second = fake.pool.run(FAKE_JOB, null);
  const settings: ReloadableSettings = { size: 1, boot: { ...FAKE_BOOT }, warmup: [], maxRequests: 1000, queueLimit: 10, queueTimeoutMs: 10_000, requestTimeoutMs: 10_000 };
  await fake.pool.reconfigure(settings);
  const retiring = fake.workers.filter((w) => fake.phases.get(w.processId)?.at(-1) === 'busy→retiring');
  t.equal(retiring.length, 1, 'one busy worker retires');
  retiring[0]!.answer();
  await until('it to leave', () => fake.pool.stats.workers === 1);
  t.equal(fake.phases.get(retiring[0]!.processId)?.at(-1), 'retiring→gone');
  const staying = fake.workers.find((w) => w !== retiring[0])!;
  staying.answer();
  await Promise.all([first, second]);
  t.same(fake.exits, ['reload']);

  await fake.pool.reconfigure({ ...settings, size: 0 });
  t.equal(fake.phases.get(staying.processId)?.at(-1), 'idle→gone', 'an idle surplus worker leaves at once');
  await closeFakePool(fake);
});

t.test('a worker stopped while it boots never warms up or takes work', async (t) => {
  const fake = fakePool({ warmup: [FAKE_JOB] }, ['answer', 'slow-boot']);
  await fake.pool.start();
  fake.workers[0]!.crash();
  await until('the replacement to be booting', () => fake.workers.length === 2);
  await fake.pool.close(0);
  fake.workers[1]!.boot(); // its thread finishes booting after all
  await settle();
  t.same(fake.phases.get(fake.workers[1]!.processId), ['booting→gone']);
  t.equal(fake.workers[1]!.runs.length, 0, 'no warm-up job was sent to it');
});

t.test('a self-call worker leaves after exactly selfCallWorkerIdleMs idle', async (t) => {
  const fake = fakePool({ selfCallWorkers: 1, selfCallWorkerIdleMs: 60_000, requestTimeoutMs: 120_000 }, ['hang', 'answer']);
  await fake.pool.start();
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined); // holds the only pool worker
  await fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true });
  t.equal(fake.pool.stats.selfCallWorkers, 1);
  await fake.clock.advance(59_999);
  t.equal(fake.pool.stats.selfCallWorkers, 1, 'still there at 59.999 s');
  await fake.clock.advance(1);
  t.equal(fake.pool.stats.selfCallWorkers, 0, 'gone at 60 s');
  t.same(fake.exits, ['idle']);
  await closeFakePool(fake);
});

t.test('a self-call waits for a pool worker still booting instead of starting a self-call worker', async (t) => {
  const fake = fakePool({ size: 2, selfCallWorkers: 1 }, ['hang', 'slow-boot']);
  await fake.pool.start();
  await until('the second to be booting', () => fake.workers.length === 2);
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined); // holds the first
  const selfCall = track(fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true }));
  await settle();
  t.equal(fake.workers.length, 2, 'no third php.wasm started');
  t.notOk(selfCall.settled, 'it waits');
  fake.workers[1]!.boot();
  t.equal(body(await selfCall.result), `worker ${fake.workers[1]!.processId}`, 'the booting worker takes it once warm');
  t.equal(fake.pool.stats.selfCallWorkers, 0);
  await closeFakePool(fake);
});

t.test('a self-call waiting on a booting worker gets a self-call worker once that worker fails to start', async (t) => {
  const fake = fakePool({ size: 2, selfCallWorkers: 1 }, ['hang', 'slow-boot', 'answer']);
  await fake.pool.start();
  await until('the second to be booting', () => fake.workers.length === 2);
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined);
  const selfCall = track(fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true }));
  await settle();
  t.equal(fake.workers.length, 2);
  fake.workers[1]!.crash();
  t.equal(body(await selfCall.result), `worker ${fake.workers[2]!.processId}`, 'a self-call worker answers it');
  t.equal(fake.pool.stats.selfCallWorkers, 1);
  await closeFakePool(fake);
});

t.test('a pool worker running its warm-up is counted on for a waiting self-call for exactly 3 s of it', async (t) => {
  // Its warm-up may be what made the self-call and waits for it: counting on it for ever would deadlock.
  const fake = fakePool({ size: 2, selfCallWorkers: 1, warmup: [FAKE_JOB], queueTimeoutMs: 60_000 }, ['hang', 'slow-boot-hang', 'answer']);
  const started = fake.pool.start();
  await until('the first warm-up to run', () => fake.workers[0]?.runs.length === 1);
  fake.workers[0]!.answer();
  await started;
  await until('the second to be booting', () => fake.workers.length === 2);
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined);
  const selfCall = track(fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true }));
  await fake.clock.advance(1_000);
  fake.workers[1]!.boot();
  await until('its warm-up to run', () => fake.workers[1]!.runs.length === 1);
  await fake.clock.advance(2_999);
  t.equal(fake.workers.length, 2, 'counted on while it boots, and for 2.999 s of its warm-up');
  await fake.clock.advance(1);
  await until('the self-call to be answered', () => selfCall.settled, 2_000);
  t.equal(body(await selfCall.result), `worker ${fake.workers[2]!.processId}`, 'at 3 s a self-call worker starts and takes the call');
  fake.workers[1]!.answer();
  await closeFakePool(fake);
});

t.test('workers waiting to warm up behind a warm-up that may be the caller are counted on for 3 s only', async (t) => {
  const fake = fakePool({ size: 3, selfCallWorkers: 1, warmup: [FAKE_JOB], queueTimeoutMs: 60_000 }, ['hang', 'slow-boot-hang', 'slow-boot', 'answer']);
  const started = fake.pool.start();
  await until('the first warm-up to run', () => fake.workers[0]?.runs.length === 1);
  fake.workers[0]!.answer();
  await started;
  await until('the others to be booting', () => fake.workers.length === 3);
  void fake.pool.run(FAKE_JOB, null).catch(() => undefined); // holds the first
  fake.workers[1]!.boot();
  await until('the warm-up of the second to run', () => fake.workers[1]!.runs.length === 1);
  fake.workers[2]!.boot(); // waits for its turn, behind the second's warm-up
  await settle();
  const selfCall = track(fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true })); // as if that warm-up made it
  await fake.clock.advance(2_999);
  t.equal(fake.workers.length, 3, 'counted on for 2.999 s');
  await fake.clock.advance(1);
  await until('the self-call to be answered', () => selfCall.settled, 2_000);
  t.equal(body(await selfCall.result), `worker ${fake.workers[3]!.processId}`, 'then a self-call worker takes it');
  fake.workers[1]!.answer();
  await closeFakePool(fake);
});

t.test('a self-call worker warms up without waiting for the warm-up running', async (t) => {
  const fake = fakePool({ size: 1, selfCallWorkers: 1, warmup: [FAKE_JOB] }, ['hang', 'answer']);
  const started = fake.pool.start();
  await until('the first warm-up to run', () => fake.workers[0]?.runs.length === 1);
  const selfCall = track(fake.pool.run(FAKE_JOB, null, undefined, { selfCall: true })); // as if that page made it
  await fake.clock.advance(3_000);
  t.equal(body(await selfCall.result), `worker ${fake.workers[1]!.processId}`, 'answered while the first still warms up');
  fake.workers[0]!.answer();
  await started;
  await closeFakePool(fake);
});

t.test('a worker due for recycling is passed over while another is free', async (t) => {
  const fake = fakePool({ size: 2, maxRequests: 2 }, ['answer', 'answer', 'slow-boot']);
  await fake.pool.start();
  await until('both to be idle', () => fake.pool.stats.idle === 2);
  const [first, second] = fake.workers;
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${first!.processId}`);
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${first!.processId}`, 'its quota: due for recycling, its successor booting');
  t.equal(body(await fake.pool.run(FAKE_JOB, null)), `worker ${second!.processId}`, 'the next request goes to the worker that stays');
  await closeFakePool(fake);
});

t.test('a worker made surplus while it starts leaves as soon as it is warm, without taking work', async (t) => {
  const fake = fakePool({}, ['answer', 'slow-boot']);
  await fake.pool.start();
  fake.workers[0]!.crash();
  await until('the replacement to be booting', () => fake.workers.length === 2);
  await fake.pool.reconfigure({ size: 0, boot: { ...FAKE_BOOT }, warmup: [], maxRequests: 1000, queueLimit: 10, queueTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
  const late = fake.workers[1]!;
  late.boot();
  await until('it to leave', () => late.terminated);
  t.same(fake.phases.get(late.processId), ['booting→warming', 'warming→idle', 'idle→gone']);
  t.equal(late.runs.length, 0, 'it ran nothing');
  t.same(fake.exits, ['crashed', 'reload']);
  await closeFakePool(fake);
});

/** An opcache sample with `freeBytes` of 1000 free. */
const opcacheSample = (freeBytes: number) => ({ usedBytes: 1000 - freeBytes, freeBytes, cachedScripts: 10, hits: 1, misses: 1 });
const sizedAt = (ini: string | undefined) => /opcache\.memory_consumption = (\d+)\n$/.exec(ini ?? '')?.[1];
const collectingLog = (level: string) => {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: pino({ level }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } }) };
};

t.test('a size set in php.ini stays: a nearly full opcache is said once, with the setting to raise', async (t) => {
  const { lines, log } = collectingLog('warn');
  const fake = fakePool({ log, boot: { ...FAKE_BOOT, phpIni: 'opcache.memory_consumption = 64\n' } });
  await fake.pool.start();
  const [worker] = fake.workers;
  t.equal(fake.phpIni.get(worker!.processId), 'opcache.memory_consumption = 64\n', 'php.ini as the user wrote it');
  await fake.pool.run(FAKE_JOB, null);
  worker!.answerWith = { opcache: opcacheSample(60) }; // 6 % free: fine
  await fake.pool.run(FAKE_JOB, null);
  t.equal(lines.filter((l) => /opcache is nearly full/.test(String(l.msg))).length, 0, 'not at 6 % free');
  worker!.answerWith = { opcache: opcacheSample(40) }; // 4 % free
  await fake.pool.run(FAKE_JOB, null);
  await fake.pool.run(FAKE_JOB, null);
  const warnings = lines.filter((l) => /opcache is nearly full/.test(String(l.msg)));
  t.equal(warnings.length, 1, 'once at 4 % free, not at every sample');
  t.match(warnings[0]!.msg, /opcache\.memory_consumption/, 'naming the setting');
  t.equal(fake.workers.length, 1, 'and the worker is not replaced');
  await closeFakePool(fake);
});

t.test('opcache grows with the site: a nearly full worker is replaced by one with twice as much', async (t) => {
  const { lines, log } = collectingLog('info');
  const fake = fakePool({ log, size: 2, opcacheGrowth: { startMb: 32, maxMb: 128 } });
  await fake.pool.start();
  await until('both workers to be warm', () => fake.pool.stats.idle === 2);
  const [first, second] = fake.workers;
  t.same([first, second].map((w) => sizedAt(fake.phpIni.get(w!.processId))), ['32', '32'], 'workers start small');
  first!.answerWith = { opcache: opcacheSample(60) };
  await fake.pool.run(FAKE_JOB, null);
  t.equal(fake.workers.length, 2, 'room left: nothing happens');
  first!.answerWith = { opcache: opcacheSample(40) };
  await fake.pool.run(FAKE_JOB, null);
  await until('a successor to start', () => fake.workers.length === 3);
  const successor = fake.workers[2]!;
  t.equal(sizedAt(fake.phpIni.get(successor.processId)), '64', 'the successor gets twice as much');
  await until('the full worker to leave once its successor is warm', () => first!.terminated);
  t.same(fake.exits, ['opcache']);
  const grew = lines.filter((l) => /workers started from now on get more/.test(String(l.msg)));
  t.same(grew.map((l) => [l.fromMb, l.toMb]), [[32, 64]]);
  t.equal(lines.filter((l) => l.level === 40).length, 0, 'no warning: it was handled');

  // The other small worker fills too: replaced, with no second doubling (64 is already the size).
  second!.answerWith = { opcache: opcacheSample(10) };
  successor.answerWith = { opcache: opcacheSample(500) };
  await until('the successor to be warm', () => fake.pool.stats.idle === 2);
  await Promise.all([fake.pool.run(FAKE_JOB, null), fake.pool.run(FAKE_JOB, null)]); // one each
  await until('its successor to start', () => fake.workers.length === 4);
  t.equal(sizedAt(fake.phpIni.get(fake.workers[3]!.processId)), '64');
  t.equal(lines.filter((l) => /workers started from now on get more/.test(String(l.msg))).length, 1);
  await closeFakePool(fake);
});

t.test('at its ceiling a full opcache is said once and the worker stays', async (t) => {
  const { lines, log } = collectingLog('warn');
  const fake = fakePool({ log, opcacheGrowth: { startMb: 32, maxMb: 32 } });
  await fake.pool.start();
  const [worker] = fake.workers;
  worker!.answerWith = { opcache: opcacheSample(10) };
  await fake.pool.run(FAKE_JOB, null);
  await fake.pool.run(FAKE_JOB, null);
  t.equal(lines.filter((l) => /raise opcache\.memory_consumption/.test(String(l.msg))).length, 1);
  t.equal(fake.workers.length, 1);
  await closeFakePool(fake);
});

t.test("a PHP worker thread starts with a small young generation (idle memory, see pool.ts)", async (t) => {
  const options = workerThreadOptions({ ...FAKE_BOOT } as Parameters<typeof workerThreadOptions>[0]);
  t.ok(WORKER_YOUNG_GENERATION_MB <= 4);
  // The same options on a real thread: Node applies them, and the thread sees its limit.
  const thread = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:worker_threads').resourceLimits)", { ...options, eval: true });
  const limits = await new Promise<{ maxYoungGenerationSizeMb: number }>((resolve) => thread.once('message', resolve));
  await thread.terminate();
  t.equal(limits.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB);
});

t.test('while php.wasm is still being made the first worker starts at once and gets it on its port; later workers get it directly', async (t) => {
  let made!: (module: WebAssembly.Module) => void;
  const module = new WebAssembly.Module(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  const boots: Array<Parameters<NonNullable<Parameters<typeof fakePool>[0]['startWorker']>>[0]> = [];
  const fake = fakePool({ size: 2, wasmModule: new Promise<WebAssembly.Module>((resolve) => { made = resolve; }) }, ['slow-boot']);
  const startWorker = (fake.pool as unknown as { options: { startWorker: (boot: (typeof boots)[number]) => unknown } }).options;
  const fakeStart = startWorker.startWorker;
  startWorker.startWorker = (boot) => {
    boots.push(boot);
    return fakeStart(boot);
  };
  const started = fake.pool.start();
  await settle();
  t.equal(boots.length, 1, 'the first worker started before the module was made');
  t.equal(boots[0].wasmModule, undefined);
  t.ok(boots[0].modulePort, 'it waits on a port');
  const arrived = new Promise((resolve) => boots[0].modulePort!.once('message', resolve));
  made(module);
  t.type(await arrived, WebAssembly.Module, 'the module arrives on the port (a copy of the same compiled module: V8 shares it)');
  boots[0].modulePort!.close();
  fake.workers[0].boot();
  await started;
  await until('the second worker to start', () => boots.length === 2);
  t.equal(boots[1].wasmModule, module, 'a worker started once it is made gets it in its start-up data');
  t.equal(boots[1].modulePort, undefined);
  await closeFakePool(fake);
});

t.test('a real worker whose module could not be made fails its boot, saying so', async (t) => {
  const fake = fakePool({ size: 1, boot: { ...FAKE_BOOT, docroot: tempDir(t) }, wasmModule: Promise.reject(new Error('no php.wasm here')), startWorker: undefined });
  await t.rejects(fake.pool.start(), /could not make php\.wasm's module/);
  await fake.pool.close(0);
});
