import itertools

from rdkit import Chem

from genlab.molecules.fragments import connected_unit_sets, ring_preserving_fragments, ring_units


def brute_force_connected(neighbours, sizes, max_atoms):
    out = set()
    n = len(sizes)
    for r in range(1, n + 1):
        for subset in itertools.combinations(range(n), r):
            if sum(sizes[i] for i in subset) > max_atoms:
                continue
            seen, stack = {subset[0]}, [subset[0]]
            while stack:
                for u in neighbours[stack.pop()]:
                    if u in subset and u not in seen:
                        seen.add(u)
                        stack.append(u)
            if len(seen) == r:
                out.add(frozenset(subset))
    return out


def test_esu_enumerates_each_connected_set_once():
    # a tree with a branch and a cycle-free ring-system unit of size 3
    neighbours = [{1}, {0, 2, 3}, {1, 4}, {1}, {2, 5}, {4}]
    sizes = [1, 3, 1, 1, 2, 1]
    units = [list(range(s)) for s in sizes]
    found = list(connected_unit_sets(units, neighbours, max_atoms=6))
    assert len(found) == len(set(map(frozenset, found)))
    assert set(map(frozenset, found)) == brute_force_connected(neighbours, sizes, 6)


def test_ring_systems_are_units():
    mol = Chem.MolFromSmiles("c1ccc2ccccc2c1CC1CC1")  # naphthalene (10) + CH2 + cyclopropane (3)
    assert sorted(map(len, ring_units(mol))) == [1, 3, 10]


def test_fragments_keep_rings_whole_and_are_capped():
    mol = Chem.MolFromSmiles("O=C(NCc1ccco1)C1CCN(C)CC1")
    frags = {Chem.MolToSmiles(f) for f in ring_preserving_fragments(mol, max_atoms=9)}
    assert {"CNC=O", "NCc1ccco1", "CN1CCCCC1", "O=CC1CCNCC1", "Cc1ccco1"} <= frags
    for smi in frags:
        frag = Chem.MolFromSmiles(smi)
        assert frag.GetNumHeavyAtoms() <= 9 and not any(a.GetNumRadicalElectrons() for a in frag.GetAtoms())
        # every ring of a piece is a whole ring of the source: 5- or 6-membered only
        assert {len(r) for r in frag.GetRingInfo().AtomRings()} <= {5, 6}


def test_element_filter_drops_units():
    mol = Chem.MolFromSmiles("ClCCO")
    frags = {Chem.MolToSmiles(f) for f in ring_preserving_fragments(mol, 9, frozenset("CNOF"))}
    assert frags == {"C", "O", "CC", "CO", "CCO"}
