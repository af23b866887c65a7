"""Per-tenant latency under an open-loop load (bench/tenants runs this against a fresh node).

Many tenants with Zipf-distributed gallery sizes are loaded through POST /v1/faces:batch. A
schedule of searches, verifies and enrolls is then fixed in advance for every tenant (its rate
in proportion to its gallery) and sent on time whatever the answers do: each latency counts
from the request's scheduled time, so a stall cannot hide itself by delaying the requests
behind it (no coordinated omission). The generator reports its own lateness. The same schedule
runs four times: Enface quiet, Enface with one big tenant at NOISE times its share, and the
same two against the design a user would otherwise build (PostgreSQL + pgvector under row-level
security, an exact per-tenant query a request).
"""

import argparse
import asyncio
import base64
import json
import math
import random
import sys
import time

import asyncpg
import numpy as np

DIM = 512
KINDS = (("search", 0.80), ("verify", 0.15), ("enroll", 0.05))


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class HTTP:
    """Keep-alive HTTP/1.1 connections to one server, at most `limit` open at once."""

    def __init__(self, host, port, limit):
        self.host, self.port, self.limit = host, port, limit
        self.idle, self.open = [], 0
        self.freed = asyncio.Condition()

    async def request(self, method, path, headers, body=b""):
        connection = await self._acquire()
        try:
            reader, writer = connection
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(head.encode() + b"\r\n" + body)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length, chunked = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                data = b""
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    data += await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                data = await reader.readexactly(length)
            self.idle.append(connection)
            return status, data
        except Exception:
            self.open -= 1
            connection[1].close()
            raise
        finally:
            async with self.freed:
                self.freed.notify()

    async def _acquire(self):
        while True:
            if self.idle:
                return self.idle.pop()
            if self.open < self.limit:
                self.open += 1
                try:
                    return await asyncio.open_connection(self.host, self.port)
                except Exception:
                    self.open -= 1
                    raise
            async with self.freed:
                await self.freed.wait()


def b64(vector):
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode()


class Tenant:
    def __init__(self, index, faces):
        self.index, self.faces = index, faces
        self.slug = f"t{index:03d}"
        self.id = self.key = None
        self.probes = []
        self.enrolled = 0


async def provision(http, token, tenants, rng, batch):
    admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for tenant in tenants:
        body = {
            "name": tenant.slug, "slug": tenant.slug, "plan": "enterprise",
            "quotas": {"maxFaces": 10_000_000, "requestsPerMinute": 10_000_000, "requestsPerDay": 10_000_000_000},
            "settings": {"duplicateCheck": "off"},
        }
        status, data = await http.request("POST", "/admin/v1/tenants", admin, json.dumps(body).encode())
        assert status == 201, data
        created = json.loads(data)
        tenant.id, tenant.key = created["tenant"]["id"], created["apiKey"]
        status, data = await http.request("POST", f"/admin/v1/tenants/{tenant.id}/activate", admin)
        assert status == 200, data

    # The faces, a batch at a time, two requests in flight.
    jobs = []
    for tenant in tenants:
        for start in range(0, tenant.faces, batch):
            jobs.append((tenant, start, min(tenant.faces, start + batch)))
    loaded, started = 0, time.monotonic()
    queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker():
        nonlocal loaded
        while not queue.empty():
            tenant, start, end = queue.get_nowait()
            vectors = rng.standard_normal((end - start, DIM), dtype=np.float32)
            if start == 0:
                tenant.probes = [b64(v + 0.3 * rng.standard_normal(DIM, dtype=np.float32)) for v in vectors[:8]]
            items = [{"personId": f"p{start + j}", "embeddingBase64": b64(v)} for j, v in enumerate(vectors)]
            status, data = await http.request(
                "POST", "/v1/faces:batch", {"X-API-Key": tenant.key, "Content-Type": "application/json"},
                json.dumps({"faces": items}).encode())
            answer = json.loads(data)
            assert status == 200 and answer["enrolled"] == len(items), data[:300]
            loaded += len(items)

    await asyncio.gather(*(worker() for _ in range(2)))
    return loaded, time.monotonic() - started


def schedule(tenants, rate, seconds, noisy, noise, rng):
    """(time, tenant, kind) for every request of the run, in time order: each tenant's requests
    evenly spaced at its rate from a random phase, kinds drawn with KINDS' weights."""
    total = sum(t.faces for t in tenants)
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    plan = []
    for tenant in tenants:
        tenant_rate = rate * tenant.faces / total * (noise if tenant is noisy else 1)
        interval = 1 / tenant_rate
        at = rng.uniform(0, interval)
        while at < seconds:
            plan.append((at, tenant, random.choices(names, weights)[0]))
            at += interval
    plan.sort(key=lambda entry: entry[0])
    return plan


async def run(plan, send, drain):
    """Sends `plan` on time; returns latencies by tenant (from each scheduled time), failures
    by tenant, and the generator's lateness."""
    latencies, failures, lateness, by_kind = {}, {}, [], {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    pending = set()

    async def one(scheduled, tenant, kind):
        try:
            ok = await send(tenant, kind)
        except Exception:
            ok = False
        latency = loop.time() - scheduled
        latencies.setdefault(tenant.index, []).append(latency)
        by_kind.setdefault(kind, []).append((tenant.index, latency))
        if not ok:
            failures[tenant.index] = failures.get(tenant.index, 0) + 1

    for at, tenant, kind in plan:
        scheduled = start + at
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness.append(max(0.0, loop.time() - scheduled))
        task = asyncio.ensure_future(one(scheduled, tenant, kind))
        pending.add(task)
        task.add_done_callback(pending.discard)
    end = loop.time()
    done, unfinished = await asyncio.wait(pending, timeout=drain) if pending else (set(), set())
    # Requests still open after the drain count as failures, with the latency they had reached.
    for task in unfinished:
        task.cancel()
    timed_out = len(unfinished)
    return latencies, failures, lateness, timed_out, end - start, by_kind


def enface_sender(http, rng):
    counter = [0]

    async def send(tenant, kind):
        headers = {"X-API-Key": tenant.key, "Content-Type": "application/json"}
        probe = random.choice(tenant.probes)
        if kind == "search":
            status, _ = await http.request("POST", "/v1/search", headers, json.dumps({"embeddingBase64": probe, "limit": 10}).encode())
            return status == 200
        if kind == "verify":
            person = f"p{random.randrange(tenant.faces)}"
            status, _ = await http.request(
                "POST", "/v1/verify", headers, json.dumps({"personId": person, "embeddingBase64": probe}).encode())
            return status == 200
        counter[0] += 1
        body = json.dumps({"embeddingBase64": b64(rng.standard_normal(DIM, dtype=np.float32))}).encode()
        status, _ = await http.request("POST", f"/v1/persons/new-{counter[0]}/faces", headers, body)
        return status == 201

    return send


def pgvector_sender(pool, rng):
    """The design without Enface: each request one transaction as the app role, the tenant set
    for row-level security, an exact query on pgvector (no approximate index), as bench/http's
    SQL. The probe is not rotated by the tenant's key: the cost is the same, the scores are not."""
    counter = [0]

    def text(vector):
        return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"

    async def send(tenant, kind):
        probe = text(np.frombuffer(base64.b64decode(random.choice(tenant.probes)), dtype="<f4"))
        async with pool.acquire() as connection:
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.id)
                if kind == "search":
                    await connection.fetch(
                        "SELECT person_id, 1 - (template <=> $1::text::vector) FROM faces"
                        " WHERE tenant_id = $2::uuid ORDER BY template <=> $1::text::vector LIMIT 10", probe, tenant.id)
                elif kind == "verify":
                    await connection.fetch(
                        "SELECT id, 1 - (template <=> $1::text::vector) FROM faces WHERE tenant_id = $2::uuid AND person_id = $3"
                        " ORDER BY template <=> $1::text::vector LIMIT 1", probe, tenant.id, f"p{random.randrange(tenant.faces)}")
                else:
                    counter[0] += 1
                    person = f"sql-{counter[0]}"
                    await connection.execute(
                        "INSERT INTO persons (tenant_id, id, wrapped_key) VALUES ($1::uuid, $2, '\\x00')", tenant.id, person)
                    await connection.execute(
                        "INSERT INTO faces (tenant_id, id, person_id, sealed, template)"
                        " VALUES ($1::uuid, gen_random_uuid(), $2, '\\x00', $3::text::vector)",
                        tenant.id, person, text(rng.standard_normal(DIM, dtype=np.float32)))
        return True

    return send


def size_class(faces):
    for bound in (100, 1_000, 10_000):
        if faces <= bound:
            return f"≤ {bound:,}"
    return f"> 10,000"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--app-url", required=True)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--largest", type=int, default=100_000)
    parser.add_argument("--smallest", type=int, default=10)
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--noise", type=float, default=5)
    parser.add_argument("--pool", type=int, default=8)
    parser.add_argument("--out", default="bench/tenants-latest.json")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    random.seed(7)
    host, port = args.base.removeprefix("http://").split(":")
    http = HTTP(host, int(port), 256)
    tenants = [Tenant(i, max(args.smallest, round(args.largest / (i + 1) ** args.zipf))) for i in range(args.tenants)]
    total = sum(t.faces for t in tenants)
    print(f"==> {len(tenants)} tenants, {total:,} faces (Zipf s = {args.zipf}: {tenants[0].faces:,} down to {tenants[-1].faces:,})")
    loaded, seconds = await provision(http, args.token, tenants, rng, 1_000)
    print(f"    loaded through POST /v1/faces:batch in {seconds:.1f} s ({loaded / seconds:,.0f} faces/s)")
    # Every tenant's first search loads its shard: not part of the measurement.
    for tenant in tenants:
        await enface_sender(http, rng)(tenant, "search")

    noisy = tenants[0]
    quiet_plan = schedule(tenants, args.rate, args.seconds, None, 1, random.Random(1))
    noisy_plan = schedule(tenants, args.rate, args.seconds, noisy, args.noise, random.Random(2))
    # Custom plans for every execution: asyncpg prepares each statement, and after five runs
    # PostgreSQL may switch to a generic plan that does not know the tenant, and scans every
    # tenant's faces (measured: a 5,000-face tenant's search went from 5 ms to seconds).
    pool = await asyncpg.create_pool(
        args.app_url, min_size=args.pool, max_size=args.pool, server_settings={"plan_cache_mode": "force_custom_plan"})
    phases = {}
    for name, plan, send, drain in (
        ("enface quiet", quiet_plan, enface_sender(http, rng), 30),
        ("enface noisy", noisy_plan, enface_sender(http, rng), 30),
        ("pgvector quiet", quiet_plan, pgvector_sender(pool, rng), 60),
        ("pgvector noisy", noisy_plan, pgvector_sender(pool, rng), 60),
    ):
        print(f"==> {name}: {len(plan):,} requests over {args.seconds:.0f} s ({len(plan) / args.seconds:,.0f}/s"
              + (f"; {noisy.slug}, {noisy.faces:,} faces, at {args.noise:g}× its share" if "noisy" in name else "") + ")")
        latencies, failures, lateness, timed_out, span, by_kind = await run(plan, send, drain)
        phases[name] = {"latencies": latencies, "failures": failures, "timed_out": timed_out, "by_kind": by_kind}
        print(f"    sent in {span:.1f} s; generator lateness p50 {percentile(lateness, 0.5) * 1e3:.2f} ms,"
              f" p99 {percentile(lateness, 0.99) * 1e3:.2f} ms, max {max(lateness) * 1e3:.1f} ms;"
              f" failed {sum(failures.values())} ({failures.get(noisy.index, 0)} of them {noisy.slug}'s),"
              f" unfinished after {drain} s {timed_out}")
    await pool.close()

    def stats(phase, members):
        values = [v for t in members for v in phases[phase]["latencies"].get(t.index, [])]
        return len(values), percentile(values, 0.5) * 1e3, percentile(values, 0.99) * 1e3, percentile(values, 0.999) * 1e3

    others = [t for t in tenants if t is not noisy]
    print("\nBy gallery size, every tenant but the noisy one (latency from the scheduled time, ms):")
    print("| tenants' faces | tenants | requests | quiet p50 | quiet p99 | quiet p99.9 | noisy p99 | noisy / quiet p99 |"
          " pgvector quiet p99 | pgvector / enface p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    classes = {}
    for tenant in others:
        classes.setdefault(size_class(tenant.faces), []).append(tenant)
    summary = {}
    for name, members in list(classes.items()) + [("all", others)]:
        n, p50, p99, p999 = stats("enface quiet", members)
        _, _, noisy99, _ = stats("enface noisy", members)
        _, _, sql99, _ = stats("pgvector quiet", members)
        summary[name] = {"tenants": len(members), "requests": n, "quiet": [p50, p99, p999], "noisy_p99": noisy99, "pgvector_p99": sql99}
        print(f"| {name} | {len(members)} | {n:,} | {p50:.2f} | {p99:.2f} | {p999:.2f} | {noisy99:.2f} | {noisy99 / p99:.2f}× |"
              f" {sql99:,.0f} | {sql99 / p99:,.0f}× |")
    print("\nBy kind, every tenant but the noisy one (ms):")
    print("| kind | requests | quiet p50 | quiet p99 | quiet p99.9 | noisy p99 | pgvector quiet p50 | pgvector quiet p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, _ in KINDS:
        def of(phase):
            return [v for index, v in phases[phase]["by_kind"].get(kind, []) if index != noisy.index]
        quiet, loud, sql = of("enface quiet"), of("enface noisy"), of("pgvector quiet")
        print(f"| {kind} | {len(quiet):,} | {percentile(quiet, 0.5) * 1e3:.2f} | {percentile(quiet, 0.99) * 1e3:.2f} |"
              f" {percentile(quiet, 0.999) * 1e3:.2f} | {percentile(loud, 0.99) * 1e3:.2f} | {percentile(sql, 0.5) * 1e3:,.1f} |"
              f" {percentile(sql, 0.99) * 1e3:,.1f} |")
    _, n_p50, n_p99, _ = stats("enface noisy", [noisy])
    _, q_p50, q_p99, _ = stats("enface quiet", [noisy])
    print(f"\nthe noisy tenant ({noisy.slug}, {noisy.faces:,} faces): p99 {q_p99:.2f} ms quiet, {n_p99:.2f} ms at {args.noise:g}× its share")
    print("\nPer tenant (ms; quiet p50 / p99 / p99.9, noisy p99, pgvector quiet p99):")
    per_tenant = []
    for tenant in tenants:
        row = [tenant.slug, tenant.faces]
        for phase in phases:
            values = phases[phase]["latencies"].get(tenant.index, [])
            row.append([len(values), percentile(values, 0.5) * 1e3, percentile(values, 0.99) * 1e3, percentile(values, 0.999) * 1e3])
        per_tenant.append(row)
        quiet, noisy_run, sql = row[2], row[3], row[4]
        print(f"{tenant.slug} {tenant.faces:>7,} faces  n={quiet[0]:<5} {quiet[1]:7.2f} {quiet[2]:7.2f} {quiet[3]:7.2f}"
              f"   noisy {noisy_run[2]:7.2f}   pgvector {sql[2]:9.1f}")
    document = {"args": vars(args), "faces": total, "summary": summary, "phases": list(phases),
                "failures": {p: sum(v["failures"].values()) for p, v in phases.items()},
                "noisy_tenant_failures": {p: v["failures"].get(noisy.index, 0) for p, v in phases.items()},
                "timed_out": {p: v["timed_out"] for p, v in phases.items()}}
    # A tenant a line: the file stays short enough to read and to diff.
    with open(args.out, "w") as out:
        head = json.dumps(document, indent=1)
        rows = ",\n".join("  " + json.dumps([row[0], row[1]] + [[round(x, 3) for x in cell] for cell in row[2:]]) for row in per_tenant)
        out.write(head[:-2] + ',\n "tenants": [\n' + rows + "\n ]\n}\n")


if __name__ == "__main__":
    asyncio.run(main())
