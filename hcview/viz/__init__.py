"""Figure builders returning plotly (or altair) objects. No streamlit import here: the UI
calls ``st.plotly_chart(fig)`` on what these return."""
from hcview.viz.calibration import reliability_diagram
from hcview.viz.confusion import confusion_heatmap, hierarchical_confusion_figures
from hcview.viz.curves import pr_curves, roc_curves
from hcview.viz.scatter import support_accuracy_scatter
from hcview.viz.tables import per_class_bar_chart, per_class_table, per_class_table_figure

__all__ = ["confusion_heatmap", "hierarchical_confusion_figures", "per_class_bar_chart", "per_class_table",
           "per_class_table_figure", "pr_curves", "reliability_diagram", "roc_curves",
           "support_accuracy_scatter"]
