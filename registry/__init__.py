"""The model registry the service reads versions from (MLflow), behind our own Protocol."""

from registry.base import (
    ModelRegistry,
    ModelVersion,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    RunSummary,
)

__all__ = [
    "ModelRegistry",
    "ModelVersion",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "RunSummary",
    "mlflow",
]
