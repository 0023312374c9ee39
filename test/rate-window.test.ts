import t from 'tap';
import { RateWindow } from '../server/mail/rate-window.js';

t.test('at most N units in any window; a request that does not fit takes nothing; old units age out', async (t) => {
  let now = 1_000_000;
  const window = new RateWindow(3, 60_000, () => now);
  t.ok(window.take(2));
  t.notOk(window.take(2), 'two more would make four');
  t.ok(window.take(1), 'the refused request took nothing');
  t.notOk(window.take(1));
  now += 59_999;
  t.notOk(window.take(1), 'still inside the window');
  now += 1;
  t.ok(window.take(3), 'a full window later, all three are free again');
  t.notOk(window.take(4), 'more than the limit never fits');
});
