"""Loaders on the real networks in ../shared/data, and their error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from townsquare.world import DataFileError, FollowGraph, load_edge_list, load_polblogs

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real networks not available at {DATA} (../shared/data)"
)
HOAXY = sorted((DATA / "hoaxy").glob("*.edgelist")) if DATA.is_dir() else []


# ------------------------------------------------------------------ real data
@needs_data
def test_polblogs():
    g = load_polblogs(DATA / "polblogs")
    assert g.n == 1490
    assert len(g.labels) == 1490
    assert g.labels[0] == "100monkeystyping.com"
    assert g.src.shape == g.dst.shape == (19090,)
    assert len(set(zip(g.src.tolist(), g.dst.tolist(), strict=True))) == 19025
    assert g.src.min() >= 0 and max(g.src.max(), g.dst.max()) < g.n
    # every blog is labelled liberal (-1, community 0) or conservative (+1, community 1)
    assert g.leaning.shape == (1490,) and g.community.shape == (1490,)
    assert g.community.dtype == np.int8
    assert set(np.unique(g.leaning).tolist()) == {-1.0, 1.0}
    assert np.array_equal(g.community, (g.leaning > 0).astype(np.int8))
    assert np.bincount(g.community).tolist() == [758, 732]
    # the camps mostly link within themselves (README: 9.4% of edges cross, on the LCC)
    follow = FollowGraph(g.n, g.src, g.dst)
    s, d = follow.edges()
    assert follow.edge_count == 19025 - _self_loops(g)  # self-links are dropped
    assert 0.05 < np.mean(g.community[s] != g.community[d]) < 0.15
    assert g.weight is None


def _self_loops(g) -> int:
    return len({(a, b) for a, b in zip(g.src.tolist(), g.dst.tolist(), strict=True) if a == b})


@needs_data
def test_polblogs_accepts_the_nodes_file_path():
    g = load_polblogs(DATA / "polblogs" / "nodes.csv")
    assert g.n == 1490 and g.src.size == 19090


@needs_data
def test_facebook_undirected_becomes_mutual_follows():
    path = DATA / "facebook" / "facebook_combined.txt"
    g = load_edge_list(path, directed=False)
    assert g.n == 4039
    assert g.src.size == g.dst.size == 2 * 88234
    assert np.array_equal(g.src[88234:], g.dst[:88234])
    assert np.array_equal(g.dst[88234:], g.src[:88234])
    assert g.weight is None and g.community is None
    assert g.labels[:3] == ["0", "1", "2"]
    degree = np.bincount(FollowGraph(g.n, g.src, g.dst).edges()[0], minlength=g.n)
    assert degree.max() == 1045 and np.median(degree) == 25  # README facts
    directed = load_edge_list(path)
    assert directed.n == 4039 and directed.src.size == 88234


@needs_data
@pytest.mark.parametrize("path", HOAXY, ids=lambda p: p.name)
def test_hoaxy_honours_declared_node_count(path):
    g = load_edge_list(path)
    assert g.n == 1500
    assert len(g.labels) == 1500
    assert max(g.src.max(), g.dst.max()) < 1500
    data_lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    assert g.src.size == len(data_lines)


@needs_data
def test_hoaxy_pads_isolated_users():
    g = load_edge_list(DATA / "hoaxy" / "hoaxy00.edgelist")
    assert g.src.size == 752
    assert max(g.src.max(), g.dst.max()) + 1 < g.n == 1500


@needs_data
@pytest.mark.parametrize(("name", "rows", "users"), [("ff", 7646, 5401), ("gunsense", 11483, 7106)])
def test_retweet_csv_with_user_names_and_weights(name, rows, users):
    path = DATA / "retweet" / f"{name}.csv"
    g = load_edge_list(path)
    assert g.src.size == g.dst.size == rows
    assert g.n == users == len(g.labels) == len(set(g.labels))
    assert g.weight is not None and g.weight.shape == (rows,)
    assert g.weight.min() >= 2.0  # the networks keep edges with 2+ retweets
    first = path.read_text().splitlines()[0].split(",")
    assert [g.labels[g.src[0]], g.labels[g.dst[0]], g.weight[0]] == [
        first[0],
        first[1],
        float(first[2]),
    ]
    # users are numbered in order of first appearance
    order = np.column_stack([g.src, g.dst]).ravel()
    _, first_seen = np.unique(order, return_index=True)
    assert np.all(np.diff(first_seen) > 0)


# ------------------------------------------------------------------ small files
def write(tmp_path: Path, text: str, name: str = "graph.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_header_line_is_skipped(tmp_path):
    g = load_edge_list(write(tmp_path, "source,target\n0,1\n1,2\n"))
    assert g.n == 3 and g.src.tolist() == [0, 1] and g.dst.tolist() == [1, 2]
    g = load_edge_list(write(tmp_path, "# a comment\n\nuser_a\tuser_b\tweight\nx\ty\t3\n"))
    assert g.labels == ["x", "y"] and g.weight.tolist() == [3.0]


def test_plain_edge_list_formats(tmp_path):
    g = load_edge_list(write(tmp_path, "% comment\n0 1\n\n2\t0\n1,2\n"))
    assert g.n == 3
    assert g.src.tolist() == [0, 2, 1] and g.dst.tolist() == [1, 0, 2]
    assert g.weight is None
    # weights: a missing weight on some lines counts as 1
    g = load_edge_list(write(tmp_path, "0 1 2.5\n1 0\n"))
    assert g.weight.tolist() == [2.5, 1.0]
    g = load_edge_list(write(tmp_path, "0 1 2.5\n1 2 4\n"), directed=False)
    assert g.weight.tolist() == [2.5, 4.0, 2.5, 4.0]
    assert g.src.tolist() == [0, 1, 1, 2] and g.dst.tolist() == [1, 2, 0, 1]
    # '# nodes:' pads isolated users
    g = load_edge_list(write(tmp_path, "# Nodes: 10\n0 1\n"))
    assert g.n == 10 and g.labels[-1] == "9"


def assert_error(exc: pytest.ExceptionInfo, path: Path, line: int | None, text: str) -> None:
    message = str(exc.value)
    assert str(path) in message
    assert "\n" not in message
    assert text in message
    assert exc.value.path == str(path)
    if line is not None:
        assert f":{line}:" in message
        assert exc.value.line == line


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, None, "not found")
    with pytest.raises(DataFileError) as exc:
        load_polblogs(tmp_path / "no-folder")
    assert_error(exc, tmp_path / "no-folder", None, "not found")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataFileError) as exc:
        load_edge_list(tmp_path)
    assert_error(exc, tmp_path, None, "not a file")


def test_data_file_error_is_a_value_error():
    assert issubclass(DataFileError, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("0 1\n# c\n7\n", 3, "expected 'source target [weight]'"),  # one field
        ("0 1 2\n1 2 heavy\n", 2, "'heavy' is not a number"),
        ("0 1\n1 2 3 4\n", 2, "at most 3 fields"),
        ("# nodes: many\n0 1\n", 1, "must be followed by an integer"),
        ("0 1\n-1 2\n", 2, "non-negative"),
    ],
    ids=["one-field", "weight", "too-many-fields", "nodes-header", "negative-id"],
)
def test_malformed_line_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, line, message)


def test_non_integer_ids_are_read_as_names(tmp_path):
    """'--5' or '²' are not integers, so the file's ids are read as user names."""
    path = write(tmp_path, "0 1\n--5 3\n\u00b2 0\n")
    g = load_edge_list(path)
    assert g.labels == ["0", "1", "--5", "3", "\u00b2"]
    assert g.src.tolist() == [0, 2, 4] and g.dst.tolist() == [1, 3, 0]


def test_negative_integer_id_is_a_data_file_error(tmp_path):
    path = write(tmp_path, "0 1\n-5 3\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, 2, "non-negative")


def test_declared_nodes_smaller_than_largest_id(tmp_path):
    path = write(tmp_path, "# nodes: 3\n0 1\n1 5\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, None, "nodes: 3")
    assert "5" in str(exc.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("0 1\ncaf\u00e9 1\n".encode("latin-1"))
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, None, "UTF-8")


@pytest.mark.parametrize("text", ["", "\n\n", "# only comments\n# nodes: 4\n", "source target\n"])
def test_file_without_edges(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, None, "no edges")


# ------------------------------------------------------------------ polblogs files
NODES = "id,label,leaning,source\n1,a.com,liberal,x\n2,b.com,conservative,y\n3,c.com,unknown,z\n"


def polblogs_folder(
    tmp_path: Path, nodes: str = NODES, edges: str = "source,target\n1,2\n"
) -> Path:
    folder = tmp_path / "polblogs"
    folder.mkdir(exist_ok=True)
    (folder / "nodes.csv").write_text(nodes, encoding="utf-8")
    (folder / "edges.csv").write_text(edges, encoding="utf-8")
    return folder


def test_small_polblogs(tmp_path):
    g = load_polblogs(polblogs_folder(tmp_path, edges="source,target\n1,2\n3,1\n2,1\n"))
    assert g.n == 3 and g.labels == ["a.com", "b.com", "c.com"]
    assert g.src.tolist() == [0, 2, 1] and g.dst.tolist() == [1, 0, 0]
    assert g.leaning[:2].tolist() == [-1.0, 1.0] and np.isnan(g.leaning[2])
    assert g.community.tolist() == [0, 1, -1]


def test_polblogs_edge_naming_an_unknown_node(tmp_path):
    folder = polblogs_folder(tmp_path, edges="source,target\n1,2\n2,99\n")
    with pytest.raises(DataFileError) as exc:
        load_polblogs(folder)
    assert_error(exc, folder / "edges.csv", 3, "node 99 is not in nodes.csv")


def test_polblogs_bad_header(tmp_path):
    folder = polblogs_folder(tmp_path, nodes="node,name,side\n1,a.com,liberal\n")
    with pytest.raises(DataFileError) as exc:
        load_polblogs(folder)
    assert_error(exc, folder / "nodes.csv", 1, "id,label,leaning")


@pytest.mark.parametrize(
    ("nodes", "edges", "file", "line", "message"),
    [
        (NODES + "x,d.com,liberal\n", "1,2\n", "nodes.csv", 5, "not an integer"),
        (NODES + "2,d.com,liberal\n", "1,2\n", "nodes.csv", 5, "appears twice"),
        (NODES + "4,d.com\n", "1,2\n", "nodes.csv", 5, "id,label,leaning"),
        (NODES, "source,target\n1,2,3\n", "edges.csv", 2, "expected 'source,target'"),
        (NODES, "source,target\n1,b\n", "edges.csv", 2, "must be integers"),
        ("", "1,2\n", "nodes.csv", 1, "id,label,leaning"),
    ],
)
def test_polblogs_malformed_files(tmp_path, nodes, edges, file, line, message):
    folder = polblogs_folder(tmp_path, nodes=nodes, edges=edges)
    with pytest.raises(DataFileError) as exc:
        load_polblogs(folder)
    assert_error(exc, folder / file, line, message)


def test_polblogs_missing_edges_file(tmp_path):
    folder = polblogs_folder(tmp_path)
    (folder / "edges.csv").unlink()
    with pytest.raises(DataFileError) as exc:
        load_polblogs(folder)
    assert_error(exc, folder / "edges.csv", None, "not found")


def test_polblogs_non_utf8_nodes(tmp_path):
    folder = polblogs_folder(tmp_path)
    (folder / "nodes.csv").write_bytes(b"id,label,leaning\n1,caf\xe9.com,liberal\n")
    with pytest.raises(DataFileError) as exc:
        load_polblogs(folder)
    assert_error(exc, folder / "nodes.csv", None, "UTF-8")


# ------------------------------------------------------------------ weights, notes, sizes
@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "-1", "-1e-9"])
def test_weight_must_be_finite_and_non_negative(tmp_path, weight):
    path = write(tmp_path, f"0 1 1\n1 2 0\n2 0 {weight}\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, 3, "finite number >= 0")


NOTE_END = "(a follow graph holds each follow once)"


def test_self_loops_and_duplicates_are_counted_in_notes(tmp_path):
    path = write(tmp_path, "0 1\n1 1\n0 1\n2 2\n0 1\n1 0\n")
    g = load_edge_list(path)
    assert g.src.size == 6  # kept in the arrays: FollowGraph drops them
    assert g.notes == [f"{path}: dropped 2 self-loops and 2 duplicate edges " + NOTE_END]
    assert FollowGraph(g.n, g.src, g.dst).edge_count == 2
    # undirected, '0 1' and '1 0' are the same edge
    undirected = load_edge_list(path, directed=False)
    assert undirected.notes == [f"{path}: dropped 2 self-loops and 3 duplicate edges " + NOTE_END]
    assert load_edge_list(write(tmp_path, "0 1\n1 0\n")).notes == []
    assert load_edge_list(write(tmp_path, "a b\na a\n")).notes == [
        f"{path}: dropped 1 self-loop " + NOTE_END
    ]


@needs_data
def test_polblogs_notes_its_self_links_and_repeated_links():
    g = load_polblogs(DATA / "polblogs")
    assert g.notes == [
        f"{DATA / 'polblogs' / 'edges.csv'}: dropped 3 self-loops and 65 duplicate edges "
        + NOTE_END
    ]
    assert load_edge_list(DATA / "facebook" / "facebook_combined.txt").notes == []


def test_node_ids_beyond_int32(tmp_path):
    path = write(tmp_path, "0 1\n3 2147483647\n1 2\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, 2, "int32")
    path = write(tmp_path, "0 1\n99999999999999999999999 2\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, 2, "int32")


def test_max_users_is_checked_before_allocating(tmp_path):
    path = write(tmp_path, "0 1\n5000000 2\n1 2\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path, max_users=1000)
    assert_error(exc, path, 2, "node id 5000000 means 5,000,001 users")
    assert load_edge_list(path, max_users=5_000_001).n == 5_000_001
    path = write(tmp_path, "0 1\n# nodes: 2000\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path, max_users=1000)
    assert_error(exc, path, 2, "'# nodes: 2000'")
    path = write(tmp_path, "# nodes: -4\n0 1\n")
    with pytest.raises(DataFileError) as exc:
        load_edge_list(path)
    assert_error(exc, path, 1, "integer >= 0")
