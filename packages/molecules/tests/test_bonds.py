import numpy as np
import pytest

from genlab.molecules.bonds import ELEMENTS, allowed_valence, atom_stability, bond_orders, element_index

C, H, N, O = (ELEMENTS.index(s) for s in "CHNO")


def pair(types, d):
    return bond_orders(np.array([[0.0, 0, 0], [d, 0, 0]]), np.array(types))[0, 1]


@pytest.mark.parametrize(
    "d, order",
    [(1.54, 1), (1.63, 1), (1.65, 0), (1.38, 2), (1.40, 1), (1.22, 3), (1.24, 2), (1.0, 3)],
)
def test_carbon_carbon_orders_follow_edm_margins(d, order):
    # single 154+10 pm, double 134+5 pm, triple 120+3 pm
    assert pair([C, C], d) == order


def test_hydrogen_never_double_bonds_and_pairs_are_symmetric():
    assert pair([H, C], 0.5) == 1
    assert pair([C, H], 1.18) == 1 and pair([C, H], 1.20) == 0
    pos = np.random.default_rng(0).normal(size=(7, 3))
    types = np.array([0, 1, 2, 3, 4, 1, 0])
    order = bond_orders(pos, types)
    assert (order == order.T).all() and (np.diag(order) == 0).all()


def test_nan_coordinates_make_no_bonds_and_unstable_atoms():
    pos = np.array([[0.0, 0, 0], [0.96, 0, 0], [np.nan, 0, 0]])
    types = np.array([O, H, H])
    assert bond_orders(pos, types)[2].sum() == 0
    assert atom_stability(pos, types).tolist() == [False, True, False]


def test_charges_shift_valence():
    types = np.array([N, O, C, H])
    assert allowed_valence(types).tolist() == [3, 2, 4, 1]
    assert allowed_valence(types, [1, -1, 1, 0]).tolist() == [4, 1, 3, 1]


@pytest.mark.parametrize(
    "pos, types, match",
    [
        (np.zeros((3, 2)), [0, 0, 0], r"\[N, 3\]"),
        (np.zeros((3, 3)), [0, 0], "shape"),
        (np.zeros((2, 3)), [0, 7], "indices"),
    ],
)
def test_bad_input_raises(pos, types, match):
    with pytest.raises(ValueError, match=match):
        bond_orders(pos, np.array(types))


def test_unknown_element_names_close_matches():
    assert element_index("F") == 4
    with pytest.raises(ValueError, match="element 'Cl'"):
        element_index("Cl")
