#!/usr/bin/env python3
"""Enface's vector core beside NumPy and FAISS, on the same synthetic face embeddings.

Identities are random unit centres; each gallery face is a noisy sample of its identity's centre
(genuine pairs score about 0.6-0.8, impostor pairs 0 +- 0.05 at D = 512). Queries are fresh
samples of gallery identities (80%) or of unknown ones (20%). Every engine runs every query once
untimed, then once timed. Exactness is measured against float64 brute force.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def generate(n, d, queries, seed, directory):
    rng = np.random.default_rng(seed)
    identities = max(1, n // 4)
    centres = rng.standard_normal((identities, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Noise of norm tau around the centre: cos(sample, sample') ~ 1 / (1 + tau^2), so tau in
    # [0.5, 0.82] puts genuine pairs at 0.6-0.8.
    tau = rng.uniform(0.5, 0.82, identities).astype(np.float32)

    def sample(ids):
        noise = rng.standard_normal((len(ids), d)).astype(np.float32) / np.sqrt(d)
        vectors = centres[ids] + tau[ids, None] * noise
        # Not normalised on purpose: the engines must normalise.
        return vectors * rng.uniform(0.5, 2.0, (len(ids), 1)).astype(np.float32)

    gallery = sample(np.arange(n) % identities)
    known = rng.integers(0, identities, int(queries * 0.8))
    strangers = rng.standard_normal((queries - len(known), d)).astype(np.float32)
    strangers /= np.linalg.norm(strangers, axis=1, keepdims=True)
    probes = np.concatenate([sample(known), strangers + 0.6 * rng.standard_normal(strangers.shape).astype(np.float32) / np.sqrt(d)])
    probes = probes[rng.permutation(len(probes))]
    gallery_file = os.path.join(directory, f"gallery-{n}x{d}.f32")
    query_file = os.path.join(directory, f"queries-{queries}x{d}.f32")
    gallery.astype("<f4").tofile(gallery_file)
    probes.astype("<f4").tofile(query_file)
    return gallery, probes, gallery_file, query_file


def normalised(vectors):
    return (vectors / np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(gallery, queries, k):
    """Rows and scores of the k best per query, in float64; ties to the lower row."""
    g = normalised(gallery).astype(np.float64)
    q = normalised(queries).astype(np.float64)
    rows, scores = [], []
    for start in range(0, len(q), 64):
        block = q[start:start + 64] @ g.T
        for line in block:
            order = np.lexsort((np.arange(len(line)), -line))[:k]
            rows.append(order)
            scores.append(line[order])
    return np.array(rows), np.array(scores), g, q


def timed(run, items):
    for item in items:  # untimed pass: page in, spin up threads
        run(item)
    latencies = []
    results = []
    start = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        results.append(run(item))
        latencies.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - start
    return latencies, results, total


def summary(name, latencies, total, queries, rows=None, reference=None, k=10, notes=""):
    latencies = np.sort(np.array(latencies))
    entry = {
        "name": name,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "qps": queries / total if total > 0 else 0.0,
        "notes": notes,
    }
    if rows is not None and reference is not None:
        hits = [len(set(map(int, r[:k])) & set(map(int, e[:k]))) / k for r, e in zip(rows, reference)]
        entry["recall@10"] = float(np.mean(hits))
    return entry


def bandwidth_probe(gallery):
    """One streaming pass over a buffer the size of the shard (float32, single thread)."""
    buffer = np.ascontiguousarray(gallery, dtype=np.float32).ravel()
    latencies = []
    for _ in range(21):
        t = time.perf_counter()
        buffer.sum()
        latencies.append((time.perf_counter() - t) * 1000)
    p50 = float(np.median(latencies))
    return {"name": "bandwidth probe (one read pass)", "p50_ms": p50, "p99_ms": float(np.max(latencies)),
            "qps": 0.0, "notes": f"{buffer.nbytes / p50 / 1e6:.1f} GB/s"}


def run_enface(binary, gallery_file, query_file, d, k, mode, batch):
    output = subprocess.run(
        [binary, "bench", "index", "--gallery", gallery_file, "--queries", query_file, "--dim", str(d),
         "--k", str(k), "--mode", mode, "--batch", str(batch), "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enface", default=".build/release/enface")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-hnsw", action="store_true", help="skip FAISS HNSW (its build takes minutes)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    import faiss

    k, d = args.k, args.dim
    with tempfile.TemporaryDirectory(prefix="enface-peers-") as directory:
        print(f"==> generating {args.n} x {d} gallery and {args.queries} queries", file=sys.stderr)
        gallery, queries, gallery_file, query_file = generate(args.n, d, args.queries, args.seed, directory)
        reference_rows, reference_scores, _, _ = exact_top_k(gallery, queries, k)
        g = normalised(gallery)
        q = normalised(queries)
        batches = [q[i:i + args.batch] for i in range(0, len(q), args.batch)]
        results = [bandwidth_probe(gallery)]

        print("==> enface", file=sys.stderr)
        enface = {}
        for label, mode, batch in [("enface fp32", "fp32", 1), ("enface int8", "int8", 1),
                                   ("enface auto", "auto", 1), (f"enface batch {args.batch}", "fp32", args.batch)]:
            report = run_enface(args.enface, gallery_file, query_file, d, k, mode, batch)
            rows = [r["rows"] for r in report["results"]]
            error = max(
                float(np.max(np.abs(np.array(r["scores"]) - reference_scores[i][:len(r["scores"])])))
                if r["rows"] == list(map(int, reference_rows[i][:len(r["rows"])])) else 0.0
                for i, r in enumerate(report["results"]))
            entry = summary(label, [report["p50_ms"]], 1, 1, rows, reference_rows, k)
            entry.update(p50_ms=report["p50_ms"], p99_ms=report["p99_ms"], qps=report["qps"],
                         max_score_error=error,
                         notes=f"{report['mode']}, {report['kernel']}, load {report['load_ms']:.0f} ms, "
                               f"{report['memory_bytes'] / 2**20:.0f} MiB")
            if batch > 1:
                entry["notes"] = f"per batch of {batch}; " + entry["notes"]
            enface[mode if batch == 1 else "batch"] = entry
            results.append(entry)

        print("==> numpy", file=sys.stderr)

        def numpy_single(vector):
            scores = g @ vector
            top = np.argpartition(-scores, k)[:k]
            return top[np.lexsort((top, -scores[top]))]

        lat, rows, total = timed(numpy_single, list(q))
        results.append(summary("numpy (OpenBLAS sgemv)", lat, total, len(q), rows, reference_rows, k))

        def numpy_batch(block):
            scores = block @ g.T
            top = np.argpartition(-scores, k, axis=1)[:, :k]
            return [t[np.lexsort((t, -s[t]))] for t, s in zip(top, scores)]

        lat, rows, total = timed(numpy_batch, batches)
        results.append(summary(f"numpy batch {args.batch} (sgemm)", lat, total, len(q),
                               [r for b in rows for r in b], reference_rows, k, f"per batch of {args.batch}"))

        print("==> faiss", file=sys.stderr)
        flat = faiss.IndexFlatIP(d)
        flat.add(g)
        lat, rows, total = timed(lambda v: flat.search(v[None, :], k)[1][0], list(q))
        faiss_flat = summary("faiss IndexFlatIP", lat, total, len(q), rows, reference_rows, k)
        results.append(faiss_flat)
        lat, rows, total = timed(lambda b: flat.search(b, k)[1], batches)
        faiss_batch = summary(f"faiss IndexFlatIP batch {args.batch}", lat, total, len(q),
                              [r for b in rows for r in b], reference_rows, k, f"per batch of {args.batch}")
        results.append(faiss_batch)

        sq8 = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        sq8.train(g)
        sq8.add(g)
        lat, rows, total = timed(lambda v: sq8.search(v[None, :], k)[1][0], list(q))
        results.append(summary("faiss SQ8", lat, total, len(q), rows, reference_rows, k, "approximate scores"))

        if not args.no_hnsw:
            hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 40
            t = time.perf_counter()
            hnsw.add(g)
            build = time.perf_counter() - t
            hnsw.hnsw.efSearch = 64
            lat, rows, total = timed(lambda v: hnsw.search(v[None, :], k)[1][0], list(q))
            results.append(summary("faiss HNSW M32 ef64", lat, total, len(q), rows, reference_rows, k,
                                   f"build {build:.0f} s"))

    probe = results[0]["p50_ms"]
    flat_p50 = faiss_flat["p50_ms"]
    print(f"\nN = {args.n}, D = {d}, {args.queries} queries, k = {k}, {os.cpu_count()} cores\n")
    print("| engine | p50 ms | p99 ms | queries/s | p50 / FAISS flat | recall@10 | notes |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for entry in results:
        recall = f"{entry['recall@10']:.4f}" if "recall@10" in entry else ""
        ratio = f"{entry['p50_ms'] / flat_p50:.2f}"
        qps = f"{entry['qps']:.0f}" if entry["qps"] else ""
        print(f"| {entry['name']} | {entry['p50_ms']:.2f} | {entry['p99_ms']:.2f} | {qps} | {ratio} | {recall} | {entry['notes']} |")

    checks = [
        ("fp32 p50 <= FAISS IndexFlatIP p50", enface["fp32"]["p50_ms"] <= flat_p50),
        ("fp32 p50 <= 1.25 x bandwidth probe", enface["fp32"]["p50_ms"] <= 1.25 * probe),
        (f"batch {args.batch} throughput >= FAISS IndexFlatIP batch {args.batch}", enface["batch"]["qps"] >= faiss_batch["qps"]),
        ("int8 p50 <= FAISS IndexFlatIP p50 / 3", enface["int8"]["p50_ms"] <= flat_p50 / 3),
        ("int8 recall@10 >= 0.999", enface["int8"]["recall@10"] >= 0.999),
        ("int8 scores exact (within 1e-5 of float64)", enface["int8"]["max_score_error"] <= 1e-5),
    ]
    print()
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"n": args.n, "dim": d, "queries": args.queries, "k": k, "results": results,
                       "checks": dict(checks)}, file, indent=2)
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
