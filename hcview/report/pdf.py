"""A case report as PDF, with fpdf2 (no browser). DejaVu Sans (shipped with matplotlib) covers the arrows,
± and accented letters the report uses. Text is placed as plain text (no markup is interpreted), so a hostile
string prints as its characters."""
from __future__ import annotations

import io
from pathlib import Path

from hcview.text import one_line

from .case import CALL_NOTE, CaseReport

GREY, RED, ORANGE, GREEN, BLUE = (91, 100, 117), (192, 57, 43), (230, 126, 34), (46, 139, 87), (44, 127, 184)


def _fonts() -> tuple[str, str]:
    import matplotlib

    d = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return str(d / "DejaVuSans.ttf"), str(d / "DejaVuSans-Bold.ttf")


class Raw(str):
    """Text already cleaned for a table cell (kept as it is: leading indentation survives)."""


def t(value, limit: int | None = 400) -> str:
    return one_line("" if value is None else value, limit)


def _num(x, fmt: str = ".2f") -> str:
    try:
        return format(float(x), fmt)
    except (TypeError, ValueError):
        return ""


class _PDF:
    def __init__(self, title: str, footer: str):
        from fpdf import FPDF

        class Doc(FPDF):
            def footer(self_inner):
                self_inner.set_y(-12)
                self_inner.set_font("DejaVu", "", 7)
                self_inner.set_text_color(*GREY)
                self_inner.cell(0, 5, f"{footer} · page {self_inner.page_no()}", align="C")

        self.pdf = Doc(format="A4", unit="mm")
        regular, bold = _fonts()
        self.pdf.add_font("DejaVu", "", regular)
        self.pdf.add_font("DejaVu", "B", bold)
        self.pdf.set_title(title)
        self.pdf.set_creator("hcview")
        self.pdf.set_auto_page_break(True, margin=16)
        self.pdf.set_margins(14, 14, 14)
        self.pdf.add_page()

    @property
    def w(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def font(self, size: float = 9, bold: bool = False, colour=(29, 36, 48)):
        self.pdf.set_font("DejaVu", "B" if bold else "", size)
        self.pdf.set_text_color(*colour)

    def para(self, text: str, size: float = 9, bold: bool = False, colour=(29, 36, 48), h: float = 4.6):
        from fpdf.enums import XPos, YPos

        self.font(size, bold, colour)
        self.pdf.multi_cell(self.w, h, t(text, None), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")

    def heading(self, text: str):
        self.pdf.ln(3)
        if self.pdf.get_y() > self.pdf.h - 40:
            self.pdf.add_page()
        self.para(text, 12, True)
        y = self.pdf.get_y()
        self.pdf.set_draw_color(216, 221, 230)
        self.pdf.line(self.pdf.l_margin, y, self.pdf.l_margin + self.w, y)
        self.pdf.ln(1.5)

    def box(self, text: str, colour):
        from fpdf.enums import XPos, YPos

        self.font(9, False)
        self.pdf.set_fill_color(*[int(255 - (255 - c) * 0.15) for c in colour])
        x, y = self.pdf.get_x(), self.pdf.get_y()
        self.pdf.multi_cell(self.w, 5, t(text, None), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT, padding=(1.5, 3),
                            align="L")
        self.pdf.set_fill_color(*colour)
        self.pdf.rect(x, y, 1.2, self.pdf.get_y() - y, style="F")
        self.pdf.ln(1)

    def image(self, data: bytes, w: float, x: float | None = None, y: float | None = None) -> float:
        """Place a PNG ``w`` mm wide; returns the y just below it."""
        y0 = self.pdf.get_y() if y is None else y
        info = self.pdf.image(io.BytesIO(data), x=x, y=y0, w=w)
        return y0 + float(info.rendered_height)

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = 7.5):
        from fpdf.fonts import FontFace

        self.font(size)
        self.pdf.set_fill_color(255, 255, 255)
        heading = any(header)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=size * 0.5,
                            headings_style=FontFace(emphasis="BOLD", fill_color=(244, 246, 249)),
                            first_row_as_headings=heading, padding=0.8, borders_layout="HORIZONTAL_LINES") as tb:
            if heading:
                r = tb.row()
                for h in header:
                    r.cell(t(h))
            for row in rows:
                r = tb.row()
                for c in row:
                    r.cell(c if isinstance(c, Raw) else t(c))
        self.pdf.ln(1)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_pdf(report: CaseReport) -> bytes:
    d, img = report.data, report.images
    case, model = d["case"], d["model"]
    doc = _PDF(d["title"], f"hcview {d['software']['version']} · {d['disclaimer']}")
    doc.para(f"Case report: {case['name']}", 15, True, h=7)
    doc.para(f"{d['disclaimer']} Generated {d['generated_at']} by hcview {d['software']['version']}.", 8, colour=GREY)
    doc.pdf.ln(2)
    if case.get("burned_in_warning"):
        doc.box(f"Burned-in annotation: {case['burned_in_warning']}. Check the image for names, dates or IDs before "
                "sharing this report.", RED)
    for f in d["flag_messages"]:
        doc.box(f["text"], RED if f["severity"] == "error" else ORANGE)
    if not d["flag_messages"]:
        doc.box("No flags: in distribution, certain at the operating points, consistent.", GREEN)

    # image + key facts side by side
    y0 = doc.pdf.get_y() + 1
    img_bottom = doc.image(img["image"], w=70, x=doc.pdf.l_margin, y=y0)
    facts = [("Model", f"{model['name']} ({model['id']}/{model['variant']})"), ("Model version", model.get("version")),
             ("Model sha256", model.get("sha256") or "untrained (no checkpoint)"), ("Case sha256", case["sha256"]),
             ("Image", f"{case['kind'].upper()} {case['size'][0]}×{case['size'][1]}"
                       + (f", frame {case['frame'] + 1} of {case['frames']}" if case["frames"] > 1 else "")),
             ("Ground truth", case.get("truth")),
             ("Prediction", " → ".join(str(v) for v in (d.get("prediction") or {}).values())),
             ("Inputs used", ", ".join(d.get("inputs_used") or [])),
             ("MC dropout", f"{d['mc_dropout']['passes']} passes" if d["mc_dropout"]["passes"] else "off")]
    x = doc.pdf.l_margin + 74
    doc.pdf.set_xy(x, y0)
    for k, v in facts:
        if v in (None, ""):
            continue
        doc.font(7.5, True)
        doc.pdf.set_x(x)
        doc.pdf.cell(28, 4.2, t(k))
        doc.font(7.5)
        doc.pdf.multi_cell(doc.w - 74 - 28, 4.2, t(v), new_x="LMARGIN", new_y="NEXT", align="L")
        doc.pdf.set_x(x)
    doc.pdf.set_y(max(img_bottom, doc.pdf.get_y()) + 2)

    doc.heading("Findings")
    rows = []
    for r in d["findings"]:
        if r.get("group"):
            rows.append([r["label"].upper(), "", "", "", "", "", ""])
            continue
        call = ("positive" if r["positive"] else "negative") if r.get("positive") is not None else \
            ("predicted" if r.get("on_path") else "")
        review = "; ".join(x for x in ("uncertain" if r.get("uncertain") else "", r.get("violation") or "") if x)
        indent = "\u00a0\u00a0\u00a0" * int(r["depth"]) + ("└ " if r["depth"] else "")
        rows.append([Raw(indent + t(r["label"], 80)), call, _num(r.get("p")),
                     (f"{_num(r.get('mc_mean'))} ± {_num(r.get('sd'))}" if r.get("mc_mean") is not None else ""),
                     (f"{_num(r.get('ci_low'))}–{_num(r.get('ci_high'))}" if r.get("ci_low") is not None else ""),
                     _num(r.get("threshold")), review])
    doc.table(["finding", "call", "p", "MC mean ± sd", "95% interval", "threshold", "review"], rows,
              [48, 15, 10, 22, 19, 17, 51])
    doc.para(CALL_NOTE, 7, colour=GREY)
    if d.get("inconsistencies"):
        doc.para("Hierarchy violations (a finding positive at its operating point while its parent is negative at "
                 "its own):", 8, True)
        for x in d["inconsistencies"]:
            doc.para(f"• {x}", 7.5)
    if d.get("regression"):
        r = d["regression"]
        doc.para(f"Nodule marker: x {_num(r.get('x_px'), '.0f')} px, y {_num(r.get('y_px'), '.0f')} px, size "
                 f"{_num(r.get('size_mm'), '.1f')} mm." if r.get("nodule_predicted") else "No nodule predicted: no marker.")

    mc = d["mc_dropout"]
    if mc["passes"]:
        doc.heading(f"MC-dropout bands ({mc['passes']} passes)")
        doc.para("Dark tick: MC mean; light band: 95% interval; grey tick: the label's decision threshold.", 7.5,
                 colour=GREY)
        bar_x, bar_w = doc.pdf.l_margin + 70, 70
        levels = len({o["level"] for o in mc["outputs"]}) > 1
        for o in sorted(mc["outputs"], key=lambda o: (o["level"], -(o.get("mc_mean") or 0))):
            if doc.pdf.get_y() > doc.pdf.h - 22:
                doc.pdf.add_page()
            y = doc.pdf.get_y()
            doc.font(7.5)
            doc.pdf.set_x(doc.pdf.l_margin)
            name = (f"{o['level']}: " if levels else "") + str(o["label"]) + (" (uncertain)" if o.get("uncertain") else "")
            doc.pdf.cell(70, 4.2, t(name, 60))
            doc.pdf.set_fill_color(238, 241, 245)
            doc.pdf.rect(bar_x, y + 1, bar_w, 2.6, style="F")
            lo, hi, m = (max(0.0, min(1.0, float(o.get(k) or 0))) for k in ("ci_low", "ci_high", "mc_mean"))
            doc.pdf.set_fill_color(158, 202, 225)
            doc.pdf.rect(bar_x + lo * bar_w, y + 1, max((hi - lo) * bar_w, 0.4), 2.6, style="F")
            doc.pdf.set_fill_color(8, 48, 107)
            doc.pdf.rect(bar_x + m * bar_w - 0.4, y + 0.6, 0.8, 3.4, style="F")
            if o.get("threshold") is not None:
                doc.pdf.set_fill_color(85, 85, 85)
                doc.pdf.rect(bar_x + float(o["threshold"]) * bar_w - 0.3, y + 0.2, 0.6, 4.2, style="F")
            doc.pdf.set_x(bar_x + bar_w + 3)
            doc.pdf.cell(0, 4.2, f"{_num(o.get('mc_mean'))} ± {_num(o.get('mc_std'))}   "
                                 f"[{_num(o.get('ci_low'))}, {_num(o.get('ci_high'))}]", new_x="LMARGIN", new_y="NEXT")

    hm = d["heatmaps"]
    doc.heading("Heat maps")
    if hm["maps"]:
        doc.box(hm["validity_note"], ORANGE)
        col_w, gap = 56, 4
        per_row = int((doc.w + gap) // (col_w + gap))
        for i in range(0, len(hm["maps"]), per_row):
            chunk = hm["maps"][i:i + per_row]
            if doc.pdf.get_y() > doc.pdf.h - 90:
                doc.pdf.add_page()
            y = doc.pdf.get_y()
            bottoms = []
            for k, m in enumerate(chunk):
                x = doc.pdf.l_margin + k * (col_w + gap)
                below = doc.image(img[m["image"]], w=col_w, x=x, y=y)
                cap = f"{m['method_name']} · {m['label']}: {_num(m['p'])}" + \
                    (f" ± {_num(m['sd'])}" if m.get("sd") is not None else "")
                if m["method"] == "lrp":
                    cap += f" · conservation {_num(m.get('conservation'))}"
                    cap += " (approximate)" if m.get("approximate") else ""
                doc.pdf.set_xy(x, below + 0.5)
                doc.font(7)
                doc.pdf.multi_cell(col_w, 3.6, t(cap), new_x="LEFT", new_y="NEXT", align="L")
                bottoms.append(doc.pdf.get_y())
            doc.pdf.set_y(max(bottoms) + 2)
        doc.pdf.set_y(doc.image(img["colorbar"], w=60, x=doc.pdf.l_margin) + 1)
        doc.para(f"Colour map {hm['colour_map']}: map value 0 (left) to 1 (right); values up to the threshold "
                 f"{_num(hm['threshold'])} (hatched) are not drawn; overlay opacity {_num(hm['alpha'])}.", 7.5, colour=GREY)
        for r in {m.get("rules") for m in hm["maps"] if m.get("rules")}:
            doc.para(f"LRP rules: {r}", 7, colour=GREY)
    else:
        doc.para("No heat maps in this report.")
        doc.para(hm["validity_note"], 7.5, colour=GREY)

    doc.heading("Reader feedback")
    if d["feedback"]:
        doc.table(["finding", "model said", "verdict", "note", "reader"],
                  [[f["label"], f.get("model_call") or "", f["verdict"], f.get("note") or "", f.get("reader") or ""]
                   for f in d["feedback"]], [40, 30, 18, 60, 34])
    else:
        doc.para("No reader feedback recorded for this case and model version.", colour=GREY)

    c = model["card"]
    doc.heading("Model")
    metrics = ", ".join(f"{k} {v}" for k, v in (c.get("test_metrics") or {}).items())
    kv = [("Paper", c.get("paper")), ("Task", c.get("task")), ("Modality", c.get("modality")),
          ("Variant", c.get("variant")), ("Trained", "yes" if c.get("trained") else "NO (random weights)"),
          ("Training data", c.get("trained_on")),
          ("Synthetic training data only", "yes" if c.get("synthetic_training") else None),
          ("ImageNet weights", "yes" if c.get("pretrained") else "no (trained from scratch)"),
          ("Held-out test metrics", f"{metrics} ({c.get('test_cases')} cases)" if metrics else None),
          ("Out-of-distribution gate", c.get("ood_gate")), ("Operating points", c.get("operating_points")),
          ("Checkpoint saved", c.get("saved_at")), ("Notes", c.get("notes"))]
    doc.table(["", ""], [[k, str(v)] for k, v in kv if v not in (None, "")], [45, 137])

    if case.get("dicom"):
        dm, deid = case["dicom"], case.get("deidentification") or {}
        doc.heading("Image and de-identification")
        kv = [("Modality", dm.get("modality")), ("View", dm.get("view")), ("Sex", dm.get("sex")), ("Age", dm.get("age")),
              ("Photometric", dm.get("photometric")), ("Bits stored", dm.get("bits_stored")),
              ("Pixel spacing (mm)", " × ".join(_num(x, ".3f") for x in (dm.get("pixel_spacing_mm") or []))),
              ("Display window", dm.get("window")), ("Model input window", dm.get("model_window")),
              ("Transfer syntax", dm.get("transfer_syntax")), ("De-identification", deid.get("profile")),
              ("Attributes removed or replaced",
               f"{deid.get('removed_count', 0)}: " + ", ".join(deid.get("removed") or [])),
              ("Reading notes", "; ".join(case.get("notes") or []))]
        doc.table(["", ""], [[k, str(v)] for k, v in kv if v not in (None, "")], [45, 137])
    if d.get("notices"):
        doc.heading("Notices")
        for n in d["notices"]:
            doc.para(f"• {n}", 8)
    return doc.output()
