"""A walking person touches the ground at every gait phase (the mapper ranges from the feet)."""

import numpy as np
import pytest

from edge_rover.simulation.meshes import person_mesh


@pytest.mark.parametrize("height", [1.5, 1.75, 1.95])
def test_stance_foot_is_on_the_ground_at_every_phase(height: float) -> None:
    for seed in range(3):
        for phase in np.linspace(0.0, 2 * np.pi, 25):
            lowest = person_mesh(seed, (0.5, 0.5, height), float(phase), walking=1.0).vertices[..., 2].min()
            assert lowest == pytest.approx(0.0, abs=1e-3), (seed, phase, lowest)
