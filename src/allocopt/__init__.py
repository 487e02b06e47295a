"""allocopt: place GPs, equipment and specialty centers so that people reach care in time, within a budget."""

from allocopt.errors import (
    AllocoptError,
    DataError,
    InfeasibleError,
    NetworkError,
    OutputError,
    ScenarioError,
    SolverError,
)

__version__ = "0.1.0"

__all__ = [
    "AllocoptError",
    "DataError",
    "InfeasibleError",
    "NetworkError",
    "OutputError",
    "ScenarioError",
    "SolverError",
    "__version__",
]
