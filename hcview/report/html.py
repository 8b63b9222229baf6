"""A case report as ONE self-contained HTML file: images inline (data: URIs), styles inline, no script, and a
Content-Security-Policy that forbids scripts, remote loads and forms. Every string from a user, a file or a DICOM
header goes through :func:`hcview.text.escape_html`, so a tag value such as ``<img src=x onerror=...>`` shows as
text."""
from __future__ import annotations

import base64

from hcview.text import escape_html

from .case import CALL_NOTE, CaseReport

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px auto;max-width:1000px;
color:#1d2430;line-height:1.4;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
.muted{color:#5b6475;font-size:13px}.flag{padding:8px 12px;border-radius:6px;margin:6px 0;font-size:14px}
.error{background:#fde8e8;border-left:5px solid #c0392b}.warning{background:#fff4e0;border-left:5px solid #e67e22}
.ok{background:#e8f5ec;border-left:5px solid #2e8b57}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eceff4;vertical-align:top}th{background:#f4f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:14px}.fig{flex:0 0 300px}.fig img{width:300px;height:auto;border:1px solid #ccd}
.fig .cap{font-size:12px;margin-top:3px}.top{display:flex;gap:20px;align-items:flex-start}.top img{width:360px;
height:auto;border:1px solid #ccd}.bar{position:relative;background:#eef1f5;height:10px;width:160px;border-radius:2px}
.bar span{position:absolute;top:0;height:10px}.bar .p{left:0;background:#2c7fb8}.bar .ci{background:#9ecae1}
.bar .m{width:3px;background:#08306b}.bar .t{width:2px;background:#555;top:-2px;height:14px}
.pos{font-weight:600}.path{font-weight:600}code{font-size:12px;word-break:break-all}
"""


def e(value) -> str:
    return escape_html("" if value is None else value)


def _num(x, fmt: str = ".2f") -> str:
    try:
        return format(float(x), fmt)
    except (TypeError, ValueError):
        return ""


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _pct(x) -> float:
    try:
        return max(0.0, min(100.0, float(x) * 100))
    except (TypeError, ValueError):
        return 0.0


def _kv(rows) -> str:
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v not in (None, "", []))\
        + "</table>"


def render_html(report: CaseReport) -> str:
    d, img = report.data, report.images
    case, model = d["case"], d["model"]
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(d['title'])}</title><style>{STYLE}</style></head><body>",
           f"<h1>Case report: {e(case['name'])}</h1>",
           f"<div class='muted'>{e(d['disclaimer'])} Generated {e(d['generated_at'])} by hcview "
           f"{e(d['software']['version'])}.</div>"]
    if case.get("burned_in_warning"):
        out.append(f"<div class='flag error'><b>Burned-in annotation:</b> {e(case['burned_in_warning'])}. Check the "
                   "image below for names, dates or IDs before sharing this report.</div>")
    flags = d["flag_messages"]
    out += [f"<div class='flag {e(f['severity'])}'>{e(f['text'])}</div>" for f in flags] or \
        ["<div class='flag ok'>No flags: in distribution, certain at the operating points, consistent.</div>"]

    # summary: image and key facts
    facts = [("Model", f"{model['name']} ({model['id']}/{model['variant']})"), ("Model version", model.get("version")),
             ("Model sha256", model.get("sha256") or "untrained (no checkpoint)"),
             ("Case sha256", case["sha256"]), ("Image", f"{case['kind'].upper()} {case['size'][0]}×{case['size'][1]}"
                                                + (f", frame {case['frame'] + 1} of {case['frames']}" if case["frames"] > 1
                                                   else "")),
             ("Ground truth (bundled label)", case.get("truth")),
             ("Prediction", " → ".join(f"{v}" for v in (d.get("prediction") or {}).values())),
             ("Inputs used", ", ".join(d.get("inputs_used") or [])),
             ("MC dropout", f"{d['mc_dropout']['passes']} passes" if d["mc_dropout"]["passes"] else "off")]
    out.append(f"<div class='top'>{_img(img['image'], 'de-identified image')}<div>{_kv(facts)}</div></div>")

    # findings tree
    out.append("<h2>Findings</h2><table><tr><th>finding</th><th>call</th><th>p</th><th></th><th>MC mean ± sd</th>"
               "<th>95% interval</th><th>threshold</th><th>review</th></tr>")
    for r in d["findings"]:
        if r.get("group"):
            out.append(f"<tr><th colspan='8'>{e(r['label'])}</th></tr>")
            continue
        call = ("positive" if r["positive"] else "negative") if r.get("positive") is not None else \
            ("predicted" if r.get("on_path") else "")
        cls = " class='pos'" if r.get("positive") or r.get("on_path") else ""
        review = "; ".join(x for x in ("uncertain" if r.get("uncertain") else "", r.get("violation") or "") if x)
        bar = f"<div class='bar'><span class='p' style='width:{_pct(r.get('p')):.1f}%'></span></div>" \
            if r.get("p") is not None else ""
        mc = f"{_num(r.get('mc_mean'))} ± {_num(r.get('sd'))}" if r.get("mc_mean") is not None else ""
        ci = f"{_num(r.get('ci_low'))}–{_num(r.get('ci_high'))}" if r.get("ci_low") is not None else ""
        out.append(f"<tr><td{cls} style='padding-left:{8 + 18 * int(r['depth'])}px'>{e(r['label'])}</td>"
                   f"<td{cls}>{e(call)}</td><td class='num'>{_num(r.get('p'))}</td><td>{bar}</td>"
                   f"<td class='num'>{mc}</td><td class='num'>{ci}</td><td class='num'>{_num(r.get('threshold'))}</td>"
                   f"<td>{e(review)}</td></tr>")
    out.append("</table>")
    out.append(f"<p class='muted'>{e(CALL_NOTE)}</p>")
    if d.get("inconsistencies"):
        out.append("<p><b>Hierarchy violations</b> (a finding positive at its operating point while its parent is "
                   "negative at its own):</p><ul>" + "".join(f"<li>{e(x)}</li>" for x in d["inconsistencies"]) + "</ul>")
    if d.get("regression"):
        r = d["regression"]
        out.append("<p>" + (f"Nodule marker: x {_num(r.get('x_px'), '.0f')} px, y {_num(r.get('y_px'), '.0f')} px, size "
                            f"{_num(r.get('size_mm'), '.1f')} mm (pixel spacing from {e(r.get('spacing_source'))})."
                            if r.get("nodule_predicted") else "No nodule predicted: no marker.") + "</p>")

    # MC bands
    mc = d["mc_dropout"]
    if mc["passes"]:
        levels = len({o["level"] for o in mc["outputs"]}) > 1
        out.append(f"<h2>MC-dropout bands ({mc['passes']} passes)</h2><p class='muted'>Dark tick: MC mean; light band: "
                   "95% interval; grey tick: the label's decision threshold.</p><table><tr>"
                   + ("<th>level</th>" if levels else "") + "<th>output</th><th>band</th><th>mean ± sd</th>"
                   "<th>95% interval</th></tr>")
        for o in sorted(mc["outputs"], key=lambda o: (o["level"], -(o.get("mc_mean") or 0))):
            lo, hi, m = _pct(o.get("ci_low")), _pct(o.get("ci_high")), _pct(o.get("mc_mean"))
            t = (f"<span class='t' style='left:{_pct(o['threshold']):.1f}%'></span>"
                 if o.get("threshold") is not None else "")
            band = (f"<div class='bar'><span class='ci' style='left:{lo:.1f}%;width:{max(hi - lo, 0.5):.1f}%'></span>"
                    f"<span class='m' style='left:{m:.1f}%'></span>{t}</div>")
            flag = " (uncertain)" if o.get("uncertain") else ""
            lev = f"<td>{e(o['level'])}</td>" if levels else ""
            out.append(f"<tr>{lev}<td>{e(o['label'])}{flag}</td><td>{band}</td>"
                       f"<td class='num'>{_num(o.get('mc_mean'))} ± {_num(o.get('mc_std'))}</td>"
                       f"<td class='num'>{_num(o.get('ci_low'))}–{_num(o.get('ci_high'))}</td></tr>")
        out.append("</table>")

    # heat maps
    hm = d["heatmaps"]
    out.append("<h2>Heat maps</h2>")
    if hm["maps"]:
        out.append(f"<p class='flag warning'>{e(hm['validity_note'])}</p><div class='grid'>")
        for m in hm["maps"]:
            p = f": {_num(m['p'])}" + (f" ± {_num(m['sd'])}" if m.get("sd") is not None else "")
            extra = ""
            if m["method"] == "lrp":
                extra = f"<br>Relevance conservation {_num(m.get('conservation'))}" + \
                    (" (approximate LRP for this architecture)" if m.get("approximate") else "")
            out.append(f"<div class='fig'>{_img(img[m['image']], m['method_name'] + ' ' + m['label'])}<div class='cap'>"
                       f"<b>{e(m['method_name'])}</b> · {e(m['label'])}{e(p)}{extra}</div></div>")
        out.append("</div>")
        out.append(f"<p class='muted'>{_img(img['colorbar'], 'colour bar')}<br>Colour map {e(hm['colour_map'])}: map value "
                   f"0 (left) to 1 (right); values up to the threshold {_num(hm['threshold'])} (hatched) are not drawn; "
                   f"overlay opacity {_num(hm['alpha'])}.</p>")
        rules = {m.get("rules") for m in hm["maps"] if m.get("rules")}
        for r in rules:
            out.append(f"<p class='muted'>LRP rules: {e(r)}</p>")
    else:
        out.append(f"<p>No heat maps in this report.</p><p class='muted'>{e(hm['validity_note'])}</p>")

    # reader feedback
    out.append("<h2>Reader feedback</h2>")
    if d["feedback"]:
        out.append("<table><tr><th>finding</th><th>model said</th><th>verdict</th><th>note</th><th>reader</th></tr>")
        for f in d["feedback"]:
            out.append(f"<tr><td>{e(f['label'])}</td><td>{e(f.get('model_call'))}</td><td>{e(f['verdict'])}</td>"
                       f"<td>{e(f.get('note'))}</td><td>{e(f.get('reader'))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p class='muted'>No reader feedback recorded for this case and model version.</p>")

    # model card
    c = model["card"]
    metrics = ", ".join(f"{k} {v}" for k, v in (c.get("test_metrics") or {}).items())
    out.append("<h2>Model</h2>" + _kv([
        ("Paper", c.get("paper")), ("Task", c.get("task")), ("Modality", c.get("modality")), ("Variant", c.get("variant")),
        ("Trained", "yes" if c.get("trained") else "NO (random weights)"), ("Training data", c.get("trained_on")),
        ("Synthetic training data only", "yes" if c.get("synthetic_training") else None),
        ("ImageNet weights", "yes" if c.get("pretrained") else "no (trained from scratch)"),
        ("Held-out test metrics", (f"{metrics} ({c.get('test_cases')} cases)" if metrics else None)),
        ("Out-of-distribution gate", c.get("ood_gate")), ("Operating points", c.get("operating_points")),
        ("Checkpoint saved", c.get("saved_at")), ("Notes", c.get("notes"))]))

    # image details
    if case.get("dicom"):
        dm = case["dicom"]
        deid = case.get("deidentification") or {}
        out.append("<h2>Image and de-identification</h2>" + _kv([
            ("Modality", dm.get("modality")), ("View", dm.get("view")), ("Sex", dm.get("sex")), ("Age", dm.get("age")),
            ("Photometric", dm.get("photometric")), ("Bits stored", dm.get("bits_stored")),
            ("Pixel spacing (mm)", " × ".join(_num(x, ".3f") for x in (dm.get("pixel_spacing_mm") or []))),
            ("Display window", dm.get("window")), ("Model input window", dm.get("model_window")),
            ("Transfer syntax", dm.get("transfer_syntax")), ("De-identification", deid.get("profile")),
            ("Attributes removed or replaced", f"{deid.get('removed_count', 0)}: " + ", ".join(deid.get("removed") or [])),
            ("Reading notes", "; ".join(case.get("notes") or []))]))
    if d.get("notices"):
        out.append("<h2>Notices</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in d["notices"]) + "</ul>")
    out.append(f"<p class='muted'>hcview {e(d['software']['version'])} · {e(d['disclaimer'])}</p></body></html>")
    return "\n".join(out)
