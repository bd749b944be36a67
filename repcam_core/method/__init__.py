"""The paper's method steps that need no network: similarity B, clustering, selection, modes."""
