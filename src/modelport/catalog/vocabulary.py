"""Controlled vocabularies of the catalog metadata.

The enumerations are those of the AI4OS module metadata schema ``ai4-apps-v2.3.0.json``
(ai4os/ai4-metadata); keep them in step with that schema. The SPDX identifiers are the common
subset of the SPDX License List that research code and models use, including the deprecated
short forms (``GPL-3.0``) that the GitHub API still reports.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: The metadata schema version this model follows; v1 files are migrated to it.
SCHEMA_VERSION: Final = "2.3.0"

Library = Literal[
    "TensorFlow",
    "PyTorch",
    "Keras",
    "Scikit-learn",
    "XGBoost",
    "LightGBM",
    "CatBoost",
    "Other",
]

Task = Literal[
    "Computer Vision",
    "Natural Language Processing",
    "Time Series",
    "Recommender Systems",
    "Anomaly Detection",
    "Regression",
    "Classification",
    "Clustering",
    "Dimensionality Reduction",
    "Generative Models",
    "Graph Neural Networks",
    "Optimization",
    "Reinforcement Learning",
    "Transfer Learning",
    "Uncertainty Estimation",
    "Other",
]

Category = Literal["AI4 pre trained", "AI4 trainable", "AI4 inference", "AI4 tools"]

DataType = Literal["Image", "Text", "Time Series", "Tabular", "Graph", "Audio", "Video", "Other"]

LIBRARIES: Final[tuple[str, ...]] = get_args(Library)
TASKS: Final[tuple[str, ...]] = get_args(Task)
CATEGORIES: Final[tuple[str, ...]] = get_args(Category)
DATA_TYPES: Final[tuple[str, ...]] = get_args(DataType)


SPDX_LICENSES: Final[frozenset[str]] = frozenset(
    {
        "0BSD",
        "AFL-3.0",
        "AGPL-3.0",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "Apache-1.1",
        "Apache-2.0",
        "Artistic-2.0",
        "BlueOak-1.0.0",
        "BSD-1-Clause",
        "BSD-2-Clause",
        "BSD-2-Clause-Patent",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSD-4-Clause",
        "BSL-1.0",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "CC-BY-NC-3.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-ND-3.0",
        "CC-BY-NC-ND-4.0",
        "CC-BY-NC-SA-3.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-ND-4.0",
        "CC-BY-SA-3.0",
        "CC-BY-SA-4.0",
        "CC0-1.0",
        "CDDL-1.0",
        "CECILL-2.1",
        "CECILL-B",
        "CECILL-C",
        "CreativeML-OpenRAIL-M",
        "ECL-2.0",
        "EPL-1.0",
        "EPL-2.0",
        "EUPL-1.1",
        "EUPL-1.2",
        "GFDL-1.3-only",
        "GFDL-1.3-or-later",
        "GPL-2.0",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "HPND",
        "ISC",
        "LGPL-2.1",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "LPPL-1.3c",
        "MIT",
        "MIT-0",
        "MPL-1.1",
        "MPL-2.0",
        "MS-PL",
        "MS-RL",
        "MulanPSL-2.0",
        "NCSA",
        "ODbL-1.0",
        "ODC-By-1.0",
        "OFL-1.1",
        "OSL-3.0",
        "PDDL-1.0",
        "PostgreSQL",
        "PSF-2.0",
        "Python-2.0",
        "Unicode-DFS-2016",
        "Unlicense",
        "UPL-1.0",
        "Vim",
        "WTFPL",
        "Zlib",
    }
)

SPDX_EXCEPTIONS: Final[frozenset[str]] = frozenset(
    {
        "Autoconf-exception-3.0",
        "Bison-exception-2.2",
        "Classpath-exception-2.0",
        "GCC-exception-3.1",
        "LLVM-exception",
        "OpenJDK-assembly-exception-1.0",
    }
)

#: Free-text license names seen in DEEP v1 files and READMEs (lower case, single spaces) → SPDX id.
LICENSE_ALIASES: Final[dict[str, str]] = {
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license v2": "Apache-2.0",
    "apache license v2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache v2": "Apache-2.0",
    "mit license": "MIT",
    "the mit license": "MIT",
    "bsd": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "simplified bsd license": "BSD-2-Clause",
    "gplv2": "GPL-2.0-only",
    "gpl v2": "GPL-2.0-only",
    "gplv3": "GPL-3.0-only",
    "gpl v3": "GPL-3.0-only",
    "gpl 3.0": "GPL-3.0-only",
    "gnu gpl v3": "GPL-3.0-only",
    "gnu gplv3": "GPL-3.0-only",
    "gnu general public license v3.0": "GPL-3.0-only",
    "gnu general public license v3": "GPL-3.0-only",
    "gnu general public license v2.0": "GPL-2.0-only",
    "agplv3": "AGPL-3.0-only",
    "gnu affero general public license v3.0": "AGPL-3.0-only",
    "lgplv3": "LGPL-3.0-only",
    "gnu lesser general public license v3.0": "LGPL-3.0-only",
    "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0": "MPL-2.0",
    "cc by 4.0": "CC-BY-4.0",
    "cc-by 4.0": "CC-BY-4.0",
    "cc by-sa 4.0": "CC-BY-SA-4.0",
    "cc by-nc 4.0": "CC-BY-NC-4.0",
    "cc by-nc-sa 4.0": "CC-BY-NC-SA-4.0",
    "cc0": "CC0-1.0",
    "cc0 1.0": "CC0-1.0",
    "eupl 1.2": "EUPL-1.2",
    "eupl v1.2": "EUPL-1.2",
}
