// ioredis' Cluster against a 3-node raftcache cluster: start-up from any
// node, the leader as the one master and the followers as its replicas,
// SET/GET, a MULTI, and a kill -9 of the leader: writes retried until a
// new leader answers, then every acknowledged write read back.
// Usage: node cluster.js HOST PORT LEADER_PORT LEADER_PID
// Prints PASS/FAIL lines (run by tcl-tests/integration/clients.tcl).
const path = require("path");
const Redis = require(path.join(__dirname, "node_modules", "ioredis"));

const [host, port, leaderPort, leaderPid] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function check(name, fn) {
  try {
    await fn();
    console.log("PASS " + name);
  } catch (e) {
    console.log("FAIL " + name + ": " + (e && e.message ? e.message : e));
  }
}

function eq(got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error("expected " + JSON.stringify(want) + " got " + JSON.stringify(got));
}

async function main() {
  const c = new Redis.Cluster([{ host, port: +port }], {
    redisOptions: { connectTimeout: 1000 },
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 1000,
  });
  await check("ioredis_cluster_topology", async () => {
    await c.set("io:warm", "1");
    eq(c.nodes("master").map((n) => n.options.port), [+leaderPort]);
    eq(c.nodes("slave").length, 2);
  });
  await check("ioredis_cluster_set_get", async () => {
    eq(await c.set("io:k", "v"), "OK");
    eq(await c.get("io:k"), "v");
    eq(await c.mset("{io}a", "1", "{io}b", "2"), "OK");
    eq(await c.mget("{io}a", "{io}b", "{io}c"), ["1", "2", null]);
  });
  await check("ioredis_cluster_multi", async () => {
    eq(await c.multi().set("io:t", 1).incr("io:t").exec(), [[null, "OK"], [null, 2]]);
  });
  const acked = {};
  async function write(key, val, deadline) {
    for (;;) {
      try {
        if ((await c.set(key, val)) === "OK") {
          acked[key] = val;
          return;
        }
      } catch (e) {
        if (Date.now() > deadline) throw new Error("no write acknowledged: " + e.message);
        await sleep(200);
      }
    }
  }
  await check("ioredis_cluster_leader_kill", async () => {
    for (let i = 0; i < 20; i++) await write("io:f:" + i, "" + i, Date.now() + 5000);
    process.kill(+leaderPid, "SIGKILL");
    const t0 = Date.now();
    for (let i = 20; i < 40; i++) await write("io:f:" + i, "" + i, t0 + 20000);
    console.log("NOTE writes resumed " + ((Date.now() - t0) / 1000).toFixed(1) + " s after the kill");
    for (const [k, v] of Object.entries(acked)) {
      let got = null;
      for (let t = 0; t < 50; t++) {
        try {
          got = await c.get(k);
          break;
        } catch (e) {
          await sleep(200);
        }
      }
      eq(got, v);
    }
  });
  c.disconnect();
}

const timer = setTimeout(() => {
  console.log("FAIL ioredis_cluster: timed out");
  process.exit(1);
}, 60000);
main().then(() => clearTimeout(timer));
