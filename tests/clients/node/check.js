// ioredis and node-redis against the server on 127.0.0.1:<port>: connect
// handshake, strings, expiry, pipelines, nulls, error texts, and node-redis
// in RESP3. Prints one PASS/FAIL line per check, like the other clients.
'use strict';
const assert = require('assert');
const port = Number(process.argv[2]);

async function check(name, fn) {
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${String(e && e.message || e).replace(/\n/g, ' ')}`);
  }
}

async function withTimeout(p, ms) {
  let t;
  const timer = new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout')), ms); });
  try { return await Promise.race([p, timer]); } finally { clearTimeout(t); }
}

async function ioredisChecks() {
  const Redis = require('ioredis');
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1,
                        retryStrategy: () => null, connectionName: 'ioclient' });
  await check('ioredis_connect', async () => {
    await withTimeout(r.connect(), 5000);
    assert.strictEqual(await r.ping(), 'PONG');
    assert.strictEqual(await r.client('GETNAME'), 'ioclient');
  });
  await check('ioredis_set_get', async () => {
    assert.strictEqual(await r.set('io:k', 'v', 'EX', 100), 'OK');
    assert.strictEqual(await r.get('io:k'), 'v');
    assert.strictEqual(await r.get('io:missing'), null);
    const ttl = await r.ttl('io:k');
    assert.ok(ttl >= 99 && ttl <= 100, `ttl ${ttl}`);
  });
  await check('ioredis_incr_and_error', async () => {
    await r.del('io:n');
    assert.strictEqual(await r.incrby('io:n', 5), 5);
    await assert.rejects(r.incr('io:k'), /^ReplyError: ERR value is not an integer or out of range$/);
  });
  await check('ioredis_pipeline', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`io:p:${i}`, i);
    p.mget('io:p:0', 'io:p:499', 'io:none');
    const res = await p.exec();
    assert.strictEqual(res.length, 501);
    assert.deepStrictEqual(res[500], [null, ['0', '499', null]]);
  });
  r.disconnect();
}

async function nodeRedisChecks() {
  const { createClient } = require('redis');
  for (const resp of [2, 3]) {
    const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false,
                                       connectTimeout: 5000 }, RESP: resp });
    c.on('error', () => {});
    await check(`node_redis_resp${resp}_connect`, async () => {
      await withTimeout(c.connect(), 5000);
      assert.strictEqual(await c.ping(), 'PONG');
    });
    await check(`node_redis_resp${resp}_commands`, async () => {
      assert.strictEqual(await c.set('nr:k', 'v', { PX: 100000 }), 'OK');
      assert.strictEqual(await c.get('nr:k'), 'v');
      assert.strictEqual(await c.get('nr:missing'), null);
      assert.strictEqual(await c.exists('nr:k'), 1);
      const [a, b] = await c.multi().incr('nr:n').get('nr:k').execAsPipeline();
      assert.ok(a >= 1);
      assert.strictEqual(b, 'v');
    });
    try { c.destroy(); } catch (e) { /* already closed */ }
  }
}

(async () => {
  await ioredisChecks();
  await nodeRedisChecks();
  process.exit(0);
})();
