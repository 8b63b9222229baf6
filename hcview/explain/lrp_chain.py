"""LRP in one forward and one relevance pass for models that are a plain chain of layers (DenseNet blocks allowed),
such as CIHMLC: DenseNet-121 features -> ReLU -> Conv -> ReLU -> BN -> GAP -> Dense -> ReLU -> Dropout -> Dense.

zennit's composites have no DenseNet canonizer (its issue #165): pre-activation BatchNorms get no rule, so relevance is
scaled by BN's gradient and not conserved. Here the model is canonized by its structure, found by tracing one forward
pass (module calls and the tensors between them), and every layer gets a rule that conserves relevance:

- **BN -> ReLU** (DenseNet's pre-activation norm1/relu1, norm2/relu2, the transitions' norm/relu, norm5 before the
  head): BN's per-channel scale ``k`` merges into the next convolution (its z+ contributions ``x * W+`` do not change
  when ``x`` is divided by ``k`` and ``W`` multiplied by it), its shift becomes the threshold of a ReLU; a threshold
  ReLU passes relevance through unchanged (the canonization of Pahde et al. 2023 for DenseNets). A channel whose scale
  is negative flips sign there, so the convolution that produces it sends that relevance back through its
  negative weights (the z+ rule of the sign-flipped layer).
- **Convolutions**: the first one gets the flat rule, every other one z+ (inputs are >= 0 after a ReLU); biases and
  BN shifts take no relevance, as in the z+ rule's definition.
- **Concatenations** (inside a dense block): each piece gets the relevance of its channels, summed over every later
  layer that reads it.
- **Transition layers** (BN -> ReLU -> 1x1 conv -> 2x2 average pool): the conv and the pool are one linear layer,
  explained with z+ as one.
- **Max pooling**: winner takes all; average pooling (without a conv before it): proportional to the inputs.
- **BN -> GAP -> Dense** (CIHMLC's head_bn): BN is folded into the dense layer; dense layers get the epsilon rule,
  biases excluded (zennit's ``zero_params='bias'``), so the explained logit is redistributed in full.

The trace is checked: replaying the chain must give the model's outputs bit for bit, else the model is not a chain and
:func:`hcview.explain.lrp.lrp` uses zennit. The replayed forward also yields the Grad-CAM layer's activation and the
features under the dropout, so one pass serves prediction, MC dropout, Grad-CAM and LRP (``hcview.infer.bundle``).
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-9          # z+ / flat denominators are >= 0
EPSILON = 1e-6      # epsilon rule (dense layers)
RULES = ("structural DenseNet canonization (BN->ReLU as threshold ReLU, scale merged into the next conv; "
         "conv+pool transitions as one layer; BN folded into the dense layer after GAP) + flat first conv, z+ convs, "
         "epsilon dense layers, biases excluded")

_PLANS: "weakref.WeakKeyDictionary[nn.Module, Plan | None]" = weakref.WeakKeyDictionary()
_PLANS_GUARD = threading.Lock()


class NotAChain(Exception):
    pass


# ---------------------------------------------------------------------------------------------- units
@dataclass
class Unit:
    kind: str                    # conv | bnrelu | relu | maxpool | avgpool | fold | linear | flatten | identity | dense
    mods: list                   # the modules, in call order (empty for flatten)
    params: dict = field(default_factory=dict)

    def forward(self, x):
        if self.kind == "flatten":
            return torch.flatten(x, 1)
        if self.kind == "dense":
            return _dense_forward(self, x)[0]
        if self.kind == "fold":  # BN, the pools / flattens between, the linear layer
            x = self.mods[0](x)
            for kind, m in self.params["steps"]:
                x = torch.flatten(x, 1) if kind == "flatten" else m(x)
            return self.mods[-1](x)
        for m in self.mods:
            x = m(x)
        return x


def _is_dense_block(m: nn.Module) -> bool:
    from torchvision.models.densenet import _DenseBlock, _DenseLayer

    return isinstance(m, _DenseBlock) and all(
        isinstance(layer, _DenseLayer) and layer.drop_rate == 0 and type(layer).forward is _DenseLayer.forward
        and isinstance(layer.norm1, nn.BatchNorm2d) and isinstance(layer.norm2, nn.BatchNorm2d)
        and isinstance(layer.relu1, nn.ReLU) and isinstance(layer.relu2, nn.ReLU)
        for layer in m.values()) and type(m).forward is _DenseBlock.forward


def _bn_scale_shift(bn: nn.BatchNorm2d):
    if bn.running_var is None or bn.running_mean is None:
        raise NotAChain("a BatchNorm without running statistics")
    k = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn.affine else 1.0 / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.affine else 0.0) - bn.running_mean * k
    return k.detach(), shift.detach()


def _conv_params(conv: nn.Conv2d, first: bool) -> dict:
    w = conv.weight.detach()
    return {"w": w, "wp": w.clamp(min=0), "first": first,
            "stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "groups": conv.groups}


def _dense_params(block) -> list[dict]:
    out = []
    for layer in block.values():
        k1, _ = _bn_scale_shift(layer.norm1)
        k2, _ = _bn_scale_shift(layer.norm2)
        out.append({"conv1": _conv_params(layer.conv1, False), "conv2": _conv_params(layer.conv2, False),
                    "neg1": (k1 < 0), "neg2": (k2 < 0)})
    return out


# ---------------------------------------------------------------------------------------------- trace
def _trace(model: nn.Module, x: torch.Tensor):
    """Module calls of one forward pass at the granularity of leaves and DenseNet blocks, in call order."""
    blocks = [m for m in model.modules() if _is_dense_block(m)]
    inside = {id(c) for b in blocks for c in b.modules() if c is not b}
    calls = []

    def hook(mod, args, out):
        if id(mod) in inside:
            return
        if len(list(mod.children())) and not _is_dense_block(mod):
            return
        calls.append((mod, args, out))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return calls, out


def _flat_of(a, b) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dim() == 2 and b.dim() > 2
            and a.data_ptr() == b.data_ptr() and a.shape == torch.flatten(b, 1).shape)


@dataclass
class Plan:
    units: list                         # trunk units, input image -> branch point
    heads: dict                         # head name -> Linear unit (output = the model's output for that head)
    cam_index: int | None               # trunk unit whose output is the Grad-CAM activation
    feats_index: int | None             # trunk unit whose INPUT is forward_features (the first dropout)
    versions: tuple

    def fingerprint_ok(self, model) -> bool:
        return self.versions == _versions(model)


def _versions(model: nn.Module) -> tuple:
    return tuple((t.data_ptr(), t._version) for t in list(model.parameters()) + list(model.buffers()))


def build_plan(model: nn.Module, x: torch.Tensor) -> Plan:
    """Trace ``model`` on ``x`` and group its calls into LRP units; raise :class:`NotAChain` if it is not a chain."""
    calls, out = _trace(model, x)
    if not isinstance(out, dict) or not calls:
        raise NotAChain("no dict output")
    ls = model.label_space
    # the branch point: every head is a Linear called on the same tensor, whose output is the model's output
    head_calls = {}
    for h in ls.heads:
        hits = [c for c in calls if c[2] is out[h.name]]
        if len(hits) != 1 or not isinstance(hits[0][0], nn.Linear):
            raise NotAChain(f"head {h.name} is not a plain linear output")
        head_calls[h.name] = hits[0]
    head_mods = {id(c[0]) for c in head_calls.values()}
    branch = {id(c[1][0]) for c in head_calls.values()}
    if len(branch) != 1:
        raise NotAChain("heads read different tensors")
    trunk = [c for c in calls if id(c[0]) not in head_mods]
    if len(trunk) + len(head_calls) != len(calls):
        raise NotAChain("a head module is called more than once")
    # chain check: each call reads exactly the previous call's output (or its flattened view)
    mods, prev = [], x
    for mod, args, o in trunk:
        if len(args) != 1:
            raise NotAChain(f"{type(mod).__name__} takes {len(args)} inputs")
        a = args[0]
        if a is prev:
            pass
        elif _flat_of(a, prev):
            mods.append(("flatten", None))
        else:
            raise NotAChain(f"{type(mod).__name__} does not read the previous layer's output")
        mods.append(("mod", mod))
        prev = o
    head_in = next(iter(head_calls.values()))[1][0]
    if _flat_of(head_in, prev):
        mods.append(("flatten", None))
    elif head_in is not prev:
        raise NotAChain("the heads do not read the trunk's output")
    units = _group(mods)
    heads = {h: Unit("linear", [c[0]], {"w": c[0].weight.detach(), "b": None if c[0].bias is None else c[0].bias.detach()})
             for h, c in head_calls.items()}
    spec = getattr(model, "spec", None)
    cam_mod = model.get_submodule(spec.cam_layer) if spec is not None and spec.cam_layer else None
    cam_index = next((i for i, u in enumerate(units) if cam_mod is not None and u.mods and u.mods[-1] is cam_mod), None)
    feats_index = next((i for i, u in enumerate(units) if u.kind == "identity"
                        and isinstance(u.mods[0], nn.modules.dropout._DropoutNd)), None)
    plan = Plan(units, heads, cam_index, feats_index, _versions(model))
    # the replay must be the model's forward, bit for bit
    with torch.no_grad():
        st = run_forward(plan, x)
        if any(not torch.equal(st["out"][k], out[k]) for k in out):
            raise NotAChain("replaying the chain does not reproduce the outputs")
        if cam_index is not None:
            act, _ = model.cam_split(x)
            if not torch.equal(act, st["acts"][cam_index + 1]):
                plan.cam_index = None
        if feats_index is not None and not torch.equal(model.forward_features(x), st["acts"][feats_index]):
            plan.feats_index = None
    return plan


def _group(mods: list) -> list[Unit]:
    units: list[Unit] = []
    i, first_conv = 0, True
    while i < len(mods):
        kind, m = mods[i]
        nxt = mods[i + 1][1] if i + 1 < len(mods) else None
        if kind == "flatten":
            units.append(Unit("flatten", []))
        elif _is_dense_block(m):
            units.append(Unit("dense", [m], {"layers": _dense_params(m)}))
            first_conv = False
        elif isinstance(m, nn.BatchNorm2d) and isinstance(nxt, nn.ReLU):
            k, _ = _bn_scale_shift(m)
            units.append(Unit("bnrelu", [m, nxt], {"neg": k < 0}))
            i += 1
        elif isinstance(m, nn.BatchNorm2d):
            # BN -> (pool | flatten | dropout)* -> Linear: fold into the linear layer
            j, between = i + 1, []
            while j < len(mods) and (mods[j][0] == "flatten" or isinstance(
                    mods[j][1], (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.modules.dropout._DropoutNd))):
                between.append(mods[j])
                j += 1
            if j >= len(mods) or not isinstance(mods[j][1], nn.Linear) or \
                    any(isinstance(b[1], nn.AvgPool2d) and b[1].padding != 0 for b in between):
                raise NotAChain("a BatchNorm that is neither before a ReLU nor foldable into a dense layer")
            lin = mods[j][1]
            k, shift = _bn_scale_shift(m)
            w = lin.weight.detach() * k[None, :]
            units.append(Unit("fold", [m] + [b[1] for b in between if b[1] is not None] + [lin],
                              {"w": w, "steps": between, "in_features": lin.in_features}))
            i = j
        elif isinstance(m, nn.Conv2d):
            p = _conv_params(m, first_conv)
            first_conv = False
            if isinstance(nxt, (nn.AvgPool2d,)) and m.kernel_size == (1, 1) and m.stride == (1, 1) and \
                    m.padding == (0, 0) and nxt.padding == 0 and nxt.divisor_override is None:
                p["pool"] = nxt
                units.append(Unit("conv", [m, nxt], p))
                i += 1
            else:
                units.append(Unit("conv", [m], p))
        elif isinstance(m, nn.ReLU):
            units.append(Unit("relu", [m]))
        elif isinstance(m, nn.MaxPool2d):
            units.append(Unit("maxpool", [m]))
        elif isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
            units.append(Unit("avgpool", [m]))
        elif isinstance(m, nn.Linear):
            units.append(Unit("linear", [m], {"w": m.weight.detach(), "b": None}))
        elif isinstance(m, (nn.modules.dropout._DropoutNd, nn.Identity, nn.Flatten)):
            if isinstance(m, nn.Flatten):
                units.append(Unit("flatten", []))
            else:
                units.append(Unit("identity", [m]))
        else:
            raise NotAChain(f"no LRP rule for {type(m).__name__}")
        i += 1
    return units


def plan_for(model: nn.Module, x: torch.Tensor) -> Plan | None:
    """The cached plan of ``model`` (rebuilt when its weights change), or None when it is not a chain. Call under
    ``model_lock(model)``."""
    with _PLANS_GUARD:
        plan = _PLANS.get(model, False)
    if plan is None:
        return None
    if plan is not False and plan.fingerprint_ok(model):
        return plan
    try:
        plan = build_plan(model, x)
    except NotAChain:
        plan = None
    with _PLANS_GUARD:
        _PLANS[model] = plan
    return plan


# ---------------------------------------------------------------------------------------------- forward
def _dense_forward(unit: Unit, x):
    block = unit.mods[0]
    feats, a1s, a2s = [x], [], []
    for layer in block.values():
        a1 = layer.relu1(layer.norm1(torch.cat(feats, 1)))
        a2 = layer.relu2(layer.norm2(layer.conv1(a1)))
        feats.append(layer.conv2(a2))
        a1s.append(a1)
        a2s.append(a2)
    return torch.cat(feats, 1), {"feats": feats, "a1": a1s, "a2": a2s}


def run_forward(plan: Plan, x: torch.Tensor, keep: bool = True) -> dict:
    """Replay the chain: ``acts[i]`` is unit i's input (``acts[-1]`` the trunk output), ``out`` the head outputs."""
    acts, extra = [x], {}
    for i, u in enumerate(plan.units):
        if u.kind == "dense":
            y, extra[i] = _dense_forward(u, acts[-1])
        else:
            y = u.forward(acts[-1])
        acts.append(y)
    out = {h: u.mods[0](acts[-1]) for h, u in plan.heads.items()}
    return {"acts": acts, "extra": extra, "out": out}


def cam_top_fn(plan: Plan):
    """The part of the chain above the Grad-CAM layer: activation -> ``{head: logits}`` (the same modules as
    ``model.cam_split``'s function, so the same gradients)."""
    def top(a):
        for u in plan.units[plan.cam_index + 1:]:
            a = u.forward(a)
        return {h: u.mods[0](a) for h, u in plan.heads.items()}
    return top


# ---------------------------------------------------------------------------------------------- relevance
# Relevance travels as a pair (pos, neg): ``neg`` (or None) is the part whose consumer (a BN -> ReLU with a negative
# scale) flipped the sign of its channel; the convolution that produced the channel sends it back through its negative
# weights. Every other operation is linear in the relevance and treats both parts alike.
def _each(f, r):
    return f(r[0]), (None if r[1] is None else f(r[1]))


def _total(r):
    return r[0] if r[1] is None else r[0] + r[1]


def _conv_rule(p: dict, x, r):
    """Flat (first layer) or z+ of one convolution, optionally followed by its 2x2 average pool (``p['pool']``, one
    linear layer): input ``x`` (1, C, H, W) >= 0, output relevance pair (T, K, h, w) -> input relevance (T, C, H, W)."""
    conv = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=p["groups"])
    pool = p.get("pool")
    if p["first"]:
        rr = _total(r)
        ones = torch.ones_like(x)
        w1 = torch.ones_like(p["w"])
        z = F.conv2d(ones, w1, None, **conv)
        return torch.nn.grad.conv2d_input((rr.shape[0],) + tuple(x.shape[1:]), w1, rr / (z + EPS), **conv)
    xin = F.avg_pool2d(x, pool.kernel_size, pool.stride, 0, pool.ceil_mode, pool.count_include_pad) if pool else x

    def part(w, rr):
        z = F.conv2d(xin, w, None, **conv).abs()  # z+ >= 0; for the negative weights |z-|
        g = torch.nn.grad.conv2d_input((rr.shape[0],) + tuple(xin.shape[1:]), w, rr / (z + EPS), **conv)
        return g

    g = part(p["wp"], r[0])
    if r[1] is not None:  # channels a negative BN scale flipped: z+ of the sign-flipped layer (its negative weights)
        if "wn" not in p:
            p["wn"] = p["w"].clamp(max=0)
        g = g + part(p["wn"], r[1]) * -1.0
    if pool:
        g = _grad_of(lambda t: F.avg_pool2d(t, pool.kernel_size, pool.stride, 0, pool.ceil_mode, pool.count_include_pad),
                     x, g)
    return x * g


def _grad_of(fn, x, g):
    """Vector-Jacobian product of ``fn`` at ``x`` (1, ...) for a batch of output gradients ``g`` (T, ...)."""
    xx = x.detach().expand(g.shape[0], *x.shape[1:]).clone().requires_grad_(True)
    with torch.enable_grad():
        (gx,) = torch.autograd.grad(fn(xx), xx, g)
    return gx


def _stab(z, eps):
    return z + eps * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _linear_eps(x, w, r):
    z = F.linear(x, w)
    return x * ((r / _stab(z, EPSILON)) @ w)


def _fold_fn(u: Unit):
    def f(t):
        for kind, m in u.params["steps"]:
            t = torch.flatten(t, 1) if kind == "flatten" else m(t)
        return t
    return f


def _fold(u: Unit, x, r):
    """BN -> pools / flatten -> Linear as one linear layer (BN's scale folded into the weights, no bias), epsilon rule,
    on the BN's input ``x``."""
    f = _fold_fn(u)
    with torch.no_grad():
        z = F.linear(f(x), u.params["w"])
    return x * _grad_of(lambda t: F.linear(f(t), u.params["w"]), x, r / _stab(z, EPSILON))


def _avgpool(m, x, r):
    with torch.no_grad():
        z = m(x)
    return x * _grad_of(m, x, r / _stab(z, EPS))


def _bnrelu(neg, r):
    """BN -> ReLU as a threshold ReLU: relevance passes unchanged; channels with a negative BN scale swap parts."""
    if neg is None or not bool(neg.any()):
        return r
    m = neg.to(r[0].dtype)[None, :, None, None]
    pos, ng = r[0], (r[1] if r[1] is not None else torch.zeros_like(r[0]))
    return pos * (1 - m) + ng * m, ng * (1 - m) + pos * m


def _dense(u: Unit, extra: dict, r):
    feats, a1s, a2s = extra["feats"], extra["a1"], extra["a2"]
    widths = [f.shape[1] for f in feats]
    pos = list(torch.split(r[0], widths, 1))
    neg = list(torch.split(r[1], widths, 1)) if r[1] is not None else [None] * len(feats)
    for li in range(len(a1s) - 1, -1, -1):
        p = u.params["layers"][li]
        ra2 = _conv_rule(p["conv2"], a2s[li], (pos[li + 1], neg[li + 1]))
        ra1 = _conv_rule(p["conv1"], a1s[li], _bnrelu(p["neg2"], (ra2, None)))
        rp, rn = _bnrelu(p["neg1"], (ra1, None))
        for j, piece in enumerate(torch.split(rp, widths[: li + 1], 1)):
            pos[j] = pos[j] + piece
        if rn is not None:
            for j, piece in enumerate(torch.split(rn, widths[: li + 1], 1)):
                neg[j] = piece if neg[j] is None else neg[j] + piece
    return pos[0], neg[0]


def unit_relevance(u: Unit, x, extra, r):
    k = u.kind
    if k == "conv":
        return _conv_rule(u.params, x, r), None
    if k == "dense":
        return _dense(u, extra, r)
    if k == "bnrelu":
        return _bnrelu(u.params["neg"], r)
    if k in ("relu", "identity"):
        return r
    if k == "flatten":
        return _each(lambda t: t.reshape(t.shape[0], *x.shape[1:]), r)
    if k == "maxpool":
        return _each(lambda t: _grad_of(u.mods[0], x, t), r)
    if k == "avgpool":
        return _each(lambda t: _avgpool(u.mods[0], x, t), r)
    if k == "fold":
        return _each(lambda t: _fold(u, x, t), r)
    if k == "linear":
        return _each(lambda t: _linear_eps(x, u.params["w"], t), r)
    raise NotAChain(k)


def relevance(plan: Plan, st: dict, head: str, indices, trace: list | None = None) -> torch.Tensor:
    """Input relevance (T, C, H, W) of outputs ``indices`` of ``head``, each initialised to its logit, from a stored
    forward ``st`` (:func:`run_forward`). ``trace``: if a list, receives (unit kind, relevance sum per target)."""
    acts, out = st["acts"], st["out"][head].detach()
    idx = torch.as_tensor(list(indices))
    r0 = torch.zeros(len(idx), out.shape[1], dtype=out.dtype, device=out.device)
    r0[torch.arange(len(idx)), idx] = out[0, idx]
    with torch.no_grad():
        r = (_linear_eps(acts[-1].detach(), plan.heads[head].params["w"], r0), None)
        if trace is not None:
            trace.append(("head", _total(r).flatten(1).sum(1).tolist()))
        for i in range(len(plan.units) - 1, -1, -1):
            r = unit_relevance(plan.units[i], acts[i].detach(), st["extra"].get(i), r)
            if trace is not None:
                trace.append((plan.units[i].kind, _total(r).flatten(1).sum(1).tolist()))
    return _total(r)
