"""Similarity matrix B of eq. (2) and its row helpers, on hand-computed toy inputs."""

from __future__ import annotations

import numpy as np
import pytest

from repcam_core.errors import ConfigError
from repcam_core.method.similarity import normalise_rows, off_diagonal, similarity_matrix


def test_sums_softmax_rows_of_each_true_class():
    # images 0 and 1 are class 0, image 2 is class 1
    probs = np.array([[0.7, 0.3], [0.6, 0.4], [0.2, 0.8]])
    B = similarity_matrix(probs, np.array([0, 0, 1]))
    # B[0] = (0.7+0.6, 0.3+0.4); B[1] = (0.2, 0.8)
    np.testing.assert_allclose(B, [[1.3, 0.7], [0.2, 0.8]])
    assert B.dtype == np.float64


def test_rejects_labels_that_do_not_match_probs():
    with pytest.raises(ConfigError, match="labels must be"):
        similarity_matrix(np.full((3, 2), 0.5), np.array([0, 1]))


def test_rejects_label_out_of_range():
    with pytest.raises(ConfigError, match="label 2 is out of range for 2 classes"):
        similarity_matrix(np.full((2, 2), 0.5), np.array([0, 2]))


def test_class_without_images_is_an_error_naming_it():
    probs = np.full((3, 4), 0.25)
    with pytest.raises(ConfigError, match="class 1 has no images to build similarity from"):
        similarity_matrix(probs, np.array([0, 2, 3]))


def test_allow_empty_leaves_the_row_zero():
    probs = np.full((3, 4), 0.25)
    B = similarity_matrix(probs, np.array([0, 2, 3]), allow_empty=True)
    np.testing.assert_array_equal(B[1], 0.0)
    np.testing.assert_allclose(B[0], 0.25)


def test_normalise_rows_divides_by_off_diagonal_sum():
    B = np.array([[5.0, 1.0, 3.0], [2.0, 9.0, 2.0], [0.0, 0.0, 7.0]])
    # row 0: (1, 3) / 4; row 1: (2, 2) / 4; row 2 has nothing off the diagonal -> stays 0
    expected = np.array([[0.0, 0.25, 0.75], [0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(normalise_rows(B), expected)


def test_off_diagonal_zeroes_diagonal_without_touching_input():
    B = np.arange(9.0).reshape(3, 3)
    out = off_diagonal(B)
    np.testing.assert_array_equal(np.diag(out), 0.0)
    assert out[0, 1] == 1.0 and out[2, 1] == 7.0
    assert B[1, 1] == 4.0


def test_non_square_matrix_is_rejected():
    with pytest.raises(ConfigError, match="square"):
        normalise_rows(np.zeros((2, 3)))
