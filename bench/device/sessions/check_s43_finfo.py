"""check_s43_finfo.py - the forty-third session's GPU check of additive masks filled with finfo.min (the Hugging Face
padding convention). Read from the kernels (forty-second session): the GPU scores in base 2, bias * log2(e) overflows
to -inf below -2.36e38, so a row whose every key carries finfo.min would give O = 0 where SDPA gives the mean of V.
Prints, per dtype and pass, the largest error against SDPA's math in float64 for the all-finfo.min row, a mixed row, and
the others. Run from the repository root with PYTHONPATH=python JFA_LIBRARY=<build>/libjfa.so.
"""
import sys
import torch
import jfa.torch as jt



def math_attention(q, k, v, attn_mask):
    """SDPA's math, written out (float64 here): softmax(q k^T / sqrt(D) + mask) v."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + attn_mask
    return torch.softmax(s, dim=-1) @ v


torch.manual_seed(43)
print("# seed 43, torch", torch.__version__, torch.cuda.get_device_name(0))
B, H, N, D = 1, 2, 128, 64
dev = "cuda"
for dt in (torch.bfloat16, torch.float16, torch.float32):
    q, k, v, qd, kd, vd, do = (torch.randn(B, H, N, D, device=dev).to(dt) for _ in range(7))
    fmin = torch.finfo(dt).min
    mask = torch.zeros(B, 1, N, N, device=dev, dtype=dt)
    mask[..., 5, :] = fmin                 # every key filled: SDPA gives the mean of V
    mask[..., 9, 64:] = fmin               # half the keys filled
    mask[..., 20:, 100:] = fmin            # padded keys for later rows
    ref_in = [t.double() for t in (q, k, v, qd, kd, vd, do)]
    m64 = mask.double()

    def run(fn, q, k, v, qd, kd, vd, do, m):
        qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
        with torch.autograd.forward_ad.dual_level():
            dq_ = torch.autograd.forward_ad.make_dual(qq, qd)
            dk_ = torch.autograd.forward_ad.make_dual(kk, kd)
            dv_ = torch.autograd.forward_ad.make_dual(vv, vd)
            out = fn(dq_, dk_, dv_, attn_mask=m)
            o, t = torch.autograd.forward_ad.unpack_dual(out)
        o2 = fn(qq, kk, vv, attn_mask=m)
        g = torch.autograd.grad(o2, (qq, kk, vv), do)
        return [o.detach(), t] + list(g)

    try:
        got = run(jt.attention, q, k, v, qd, kd, vd, do, mask)
    except Exception as e:  # noqa: BLE001 - print and go on to the next dtype
        print(f"{dt}: jfa raised {type(e).__name__}: {e}")
        continue
    ref = run(math_attention, *ref_in, m64)
    names = ["O", "Od", "dQ", "dK", "dV"]
    for name, g, r in zip(names, got, ref):
        g = g.double()
        scale = r.abs().max().item() or 1.0
        err = (g - r).abs()
        if name in ("O", "Od", "dQ"):
            e5 = err[..., 5, :].max().item() / scale
            e9 = err[..., 9, :].max().item() / scale
            rest = torch.cat([err[..., :5, :], err[..., 6:9, :], err[..., 10:, :]], dim=-2).max().item() / scale
            print(f"{str(dt):15s} {name:3s} row5(all finfo.min) {e5:.2e}  row9(half) {e9:.2e}  others {rest:.2e}"
                  f"  nan={bool(torch.isnan(g).any())}")
        else:
            print(f"{str(dt):15s} {name:3s} all {err.max().item() / scale:.2e}  nan={bool(torch.isnan(g).any())}")
    print(f"{str(dt):15s} row5 O[0,0,:4] jfa {got[0][0,0,5,:4].float().tolist()} sdpa {ref[0][0,0,5,:4].tolist()}")
sys.stdout.flush()
