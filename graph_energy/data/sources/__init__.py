"""Dataset sources: where molecules come from and how they are split (one class per dataset).

Every source derives from :class:`DatasetSource` and is chosen in ``conf/dataset/<name>.yaml`` by
``source._target_``; :func:`graph_energy.data.load_dataset` then encodes, checks and caches what its
``read`` returns. Nothing here parses chemistry.
"""

from graph_energy.data.sources.base import DatasetSource, RawSplits, package_data_dir, read_table
from graph_energy.data.sources.moses import MOSES_PACKAGE_HINT, MosesSource, read_moses
from graph_energy.data.sources.qm9 import (
           QM9_NUM_GDB,
           QM9_PACKAGE_HINT,
           QM9Source,
           qm9_digress_split,
           read_qm9,
)
from graph_energy.data.sources.registry import ALIASES, SOURCES, source_class
from graph_energy.data.sources.smiles_file import SmilesFileSource, random_split, read_smiles_file
from graph_energy.data.sources.zinc250k import Zinc250kSource, read_zinc250k

__all__ = ["DatasetSource", "RawSplits", "QM9Source", "MosesSource", "Zinc250kSource", "SmilesFileSource",
           "SOURCES", "ALIASES", "source_class", "qm9_digress_split", "read_qm9", "read_moses", "read_zinc250k",
           "read_smiles_file", "random_split", "read_table", "package_data_dir", "QM9_NUM_GDB",
           "QM9_PACKAGE_HINT", "MOSES_PACKAGE_HINT"]
