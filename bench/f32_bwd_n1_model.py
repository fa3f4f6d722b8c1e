# f32_bwd_n1_model.py - test_gpu_f32_backward case 37 (B = 2, Hq = Hkv = 2, Nq = Nk = 1, D = 256) on the CPU: its
# float64 reference of dQ, dK (~1e-16: dP and Delta summed in two orders) against a float32 dS = P (dP - Delta)
# (dP in simt's order; or from TF32 products), norm-wise with and without the floor of a tenth of dV's size.
#   /usr/bin/python3 bench/f32_bwd_n1_model.py
import numpy as np
f32 = np.float32
def fma32(a, b, c): return f32(np.float64(a) * np.float64(b) + np.float64(c))  # exact product, one rounding (approx.)
def dot4(a, b):  # jfa_cpu_dot
    s = [0.0] * 4
    for d in range(0, len(a), 4):
        for e in range(4): s[e] += a[d + e] * b[d + e]
    return (s[0] + s[1]) + (s[2] + s[3])
def seq(a, b):
    s = 0.0
    for x, y in zip(a, b): s += x * y
    return s
def delta_kernel(o, do):  # elementwise.cu delta_kernel: lane-strided, xor tree
    acc = [f32(0)] * 32
    for d in range(len(o)): acc[d % 32] = fma32(o[d], do[d], acc[d % 32])
    off = 16
    while off:
        acc = [f32(acc[l] + acc[l ^ off]) for l in range(32)]; off >>= 1
    return acc[0]
def dot_row(a, b):
    s = f32(0)
    for x, y in zip(a, b): s = fma32(x, y, s)
    return s
def tf32(x):  # round to nearest TF32 (10 mantissa bits)
    u = np.array([x], dtype=np.float32).view(np.uint32)[0]
    u = (int(u) + 0x1000) & 0xFFFFE000
    return np.array([u], dtype=np.uint32).view(np.float32)[0]
def dp_tf32(a, b):  # TF32 products (one), fp32 sum per k8 block
    s = f32(0)
    for k in range(0, len(a), 8):
        s = f32(s + sum(np.float64(tf32(a[k + i])) * np.float64(tf32(b[k + i])) for i in range(8)))
    return s
for seed in range(1, 6):
    rng = np.random.default_rng(seed)
    D, rows = 256, 4
    q, k, v, do = [rng.standard_normal((rows, D)).astype(f32) for _ in range(4)]
    sc = 1 / np.sqrt(D)
    rdq, rdk, rdv, g32, g32k, gtf, gtfk = [], [], [], [], [], [], []
    for r in range(rows):
        qd, kd, vd, dod = [x[r].astype(np.float64) for x in (q, k, v, do)]
        o = vd.copy()  # P = 1: O = V exactly
        ds = 1.0 * (dot4(dod, vd) - seq(o, dod))
        rdq.append(sc * ds * kd); rdk.append(sc * ds * qd); rdv.append(dod)
        dl = delta_kernel(v[r], do[r])
        ds32 = np.float64(f32(dot_row(do[r], v[r]) - dl))
        g32.append(sc * ds32 * kd); g32k.append(sc * ds32 * qd)
        dst = np.float64(f32(dp_tf32(do[r], v[r]) - dl))
        gtf.append(sc * dst * kd); gtfk.append(sc * dst * qd)
    rdq, rdk, rdv, g32, g32k, gtf, gtfk = map(lambda x: np.concatenate(x), (rdq, rdk, rdv, g32, g32k, gtf, gtfk))
    rms_dv = np.sqrt(np.mean(rdv ** 2))
    def rel(g, ref, floor=0.0):
        den = max(np.sum(ref ** 2), floor ** 2 * len(ref))
        return np.sqrt(np.sum((g - ref) ** 2) / den) if den > 0 else np.sqrt(np.sum((g - ref) ** 2))
    print(f"seed {seed}: |ref dQ| rms {np.sqrt(np.mean(rdq**2)):.1e}; float32 dP (simt order): dQ {rel(g32, rdq):.1e} dK {rel(g32k, rdk):.1e} "
          f"(floor: {rel(g32, rdq, .1*rms_dv):.1e} / {rel(g32k, rdk, .1*rms_dv):.1e}); TF32 dP: dQ {rel(gtf, rdq):.1e} dK {rel(gtfk, rdk):.1e} "
          f"(floor: {rel(gtf, rdq, .1*rms_dv):.1e} / {rel(gtfk, rdk, .1*rms_dv):.1e})")
