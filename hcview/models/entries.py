"""The four paper entries. Training defaults come from NOTES.md (the authors' code where it exists)."""
from __future__ import annotations

from .cihmlc import CIHMLC
from .hcnet import HCNet
from .medfusionnet import MedFusionNet
from .registry import ModelSpec, Variant, register
from .resmtnet import ResMTNet

register(ModelSpec(
    id="hcnet", name="HC-Net", modality="MRI", task="hierarchical",
    paper="Hierarchical Context-Aware Network (HC-Net): A Multi-Task Learning Approach for Robust MRI Disease Diagnosis",
    doi="(no DOI given in the paper text)",
    builder=HCNet,
    variants={
        "paper": Variant("paper", 224, "hcnet_paper", {"backbone": "resnet18"}, pretrained=True, data="mri:PATH",
                         description="ResNet-18 (ImageNet), 224x224, 4x2x40 taxonomy."),
        "demo": Variant("demo", 128, "hcnet_brain_mri", {"backbone": "resnet10"}, data="sample:brain-mri",
                        train={"epochs": 4, "batch_size": 32, "lr": 1e-3, "scheduler": "cosine"},
                        description="ResNet-10 (BasicBlock [1,1,1,1]) from scratch, 128x128, brain-MRI sample taxonomy "
                                    "(1x2x4); Adam 1e-3 with cosine decay, batch 32, 4 epochs."),
    },
    dicom_modalities=("MR",),
    cam_layer="layer4", dropout="dropout (before the three heads; p=0.3, not in the paper, added for MC dropout)",
    lrp="resnet-canonizer",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "scheduler": "constant",
                    "batch_size": 64, "epochs": 15, "loss": "hcnet", "augment": ["hflip", "rotate15", "translate0.1"],
                    "select": "val_disease_acc"},
    notes="Head sizes come from the taxonomy (the paper's text says 3 categories in one place, 2 in another).",
))

register(ModelSpec(
    id="cihmlc", name="CIHMLC (HBCE)", modality="Chest X-ray", task="multilabel_tree",
    paper="Hierarchical multi-label chest X-ray classification with a hierarchical binary cross-entropy (HBCE) loss",
    doi="(see paper text)",
    builder=CIHMLC,
    variants={
        "paper": Variant("paper", 320, "cihmlc", {"backbone": "densenet121", "conv_channels": 512, "hidden": 128},
                         pretrained=False, data="chexpert:PATH",
                         description="DenseNet-121 from scratch, 320x320, 21 outputs."),
        "demo": Variant("demo", 64, "cihmlc", {"backbone": "densenet-small", "conv_channels": 128, "hidden": 128},
                        data="sample:nih", train={"epochs": 15, "batch_size": 32, "lr": 1e-3},
                        description="DenseNet-small (growth 16, blocks 2-4-8-6), 64x64, 21 outputs from NIH labels."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="head_conv", dropout="dropout (after Dense(128), p=0.5)",
    lrp="approximate: DenseNet concatenations; epsilon rule on dense layers, z+ on convs, flat on first conv",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "plateau", "plateau_factor": 0.9, "batch_size": 16,
                    "epochs": 30, "early_stopping": 3, "loss": "hbce", "hbce_mode": "data", "hbce_lambda": 0.5,
                    "hbce_indicator": "faithful", "augment": ["hflip", "vflip", "brightness0.1", "contrast0.1"],
                    "select": "val_mean_auroc"},
    notes="Faithful to the authors' Keras code (NOTES.md): 21 labels, OR-derived parents, 20 penalty edges.",
))

register(ModelSpec(
    id="medfusionnet", name="MedFusionNet", modality="Chest X-ray + clinical record + text", task="multimodal_multilabel",
    paper="MedFusionNet: hybrid CNN-transformer multimodal fusion for multilabel classification and cancer risk stratification",
    doi="(see paper text)",
    builder=MedFusionNet,
    variants={
        "paper": Variant("paper", 224, "nih14", {"growth": 32, "blocks": (6, 12, 24), "stem": 64, "token_dims": (128, 256, 384),
                                                 "token_depth": (2, 2, 2), "heads": 8, "patch": 8, "fpn_dim": 256, "n_meta": 3},
                         data="nih:PATH", description="Dense blocks 6-12-24 + 3-stage transformer, 224x224, NIH 14 labels + age/sex/view."),
        "demo": Variant("demo", 64, "nih14", {"growth": 12, "blocks": (2, 4, 4), "stem": 32, "token_dims": (48, 64, 96),
                                              "token_depth": (1, 1, 1), "heads": 4, "patch": 8, "fpn_dim": 64, "n_meta": 3},
                        data="sample:nih", train={"epochs": 12, "batch_size": 32, "lr": 1e-3},
                        description="Dense blocks 2-4-4 + 3-stage transformer (dims 48-64-96), 64x64, NIH 14 labels + age/sex/view."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="cnn_out", dropout="dropout (after the fused, reweighted vector, p=0.3)",
    inputs=("image", "meta", "text"),
    lrp="approximate: attention treated as fixed weights (zennit has no attention rule); epsilon rule",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "plateau", "plateau_factor": 0.5, "batch_size": 32,
                    "epochs": 20, "early_stopping": 5, "loss": "focal", "focal_gamma": 2.0, "balanced_sampling": True,
                    "curriculum": False, "augment": ["hflip"], "select": "val_mean_auroc"},
    notes="Built from the paper's text; the public repository is a stub. Missing modalities are masked in attention.",
))

register(ModelSpec(
    id="resmtnet", name="Res-MTNet", modality="Chest X-ray (nodules)", task="multitask",
    paper="A Residual Multi-task Network for Joint Classification and Regression in Medical Imaging",
    doi="(see paper text)",
    builder=ResMTNet,
    variants={
        "paper": Variant("paper", 224, "resmtnet_jsrt", {"backbone_a": "densenet161", "backbone_b": "efficientnet_b7", "hidden": 512},
                         pretrained=True, data="jsrt:PATH", description="DenseNet-161 + EfficientNet-B7 (ImageNet), 224x224."),
        # demo: B0 scaled to width/depth 0.5 (B0 was ~84% of each CPU step), 96x96, lr 2e-3 with warmup + cosine
        # to 0 (the constant 3e-4 run stayed at chance after 7 epochs: BatchNorm running stats lag the weights)
        "demo": Variant("demo", 96, "resmtnet_jsrt", {"backbone_a": "densenet-small", "backbone_b": "efficientnet-small", "hidden": 256},
                        data="sample:nodules",
                        train={"epochs": 4, "batch_size": 32, "lr": 2e-3, "scheduler": "cosine", "warmup": 0.1},
                        description="DenseNet-small + EfficientNet-small (B0 at width/depth 0.5), 96x96, synthetic nodule phantoms."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="backbone_a", dropout="dropout (after the shared FC + ReLU, before the residual block, p=0.3)",
    lrp="approximate: DenseNet + EfficientNet (SiLU, squeeze-excitation); epsilon rule, z+ on convs",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "constant", "batch_size": 16, "epochs": 30,
                    "loss": "resmtnet", "label_smoothing": 0.1,
                    "task_weights": {"subtlety": 1.0, "state": 1.0, "position": 1.0, "diagnosis": 1.0, "x": 1.0, "y": 1.0, "size": 1.0},
                    "augment": [], "select": "val_mean_acc"},
    notes="Regression targets normalised to [0, 1]; non-nodule cases mask the x, y and size losses.",
))
