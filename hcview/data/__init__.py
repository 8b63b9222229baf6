"""The data layer: image/DICOM loading (``io``, ``dicom``), de-identification (``deid``), label mappings
(``mappings``), seeded phantoms (``phantoms``), dataset adapters (``adapters``), the dataset contract
(``datasets.build_dataset``), tabular records (``tabular``) and deterministic splits (``splits``).

Submodules are imported on demand so ``import hcview.data`` stays cheap.
"""
