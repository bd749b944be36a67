"""The access-token gate: with ``$REPCAM_APP_TOKEN`` set, a browser session sees nothing but a
token field until it has entered the token once."""

from __future__ import annotations

import hmac

import streamlit as st

from repcam_app import settings, state


def gate_open() -> bool:
    """True when no token is set or this session has entered it."""
    return settings.token() is None or bool(st.session_state.get(state.TOKEN_OK))


def token_gate() -> None:
    """Draw the token field and stop this run until the right token is entered.

    Call before anything that shows data (class names, datasets, results). The comparison is
    constant-time; a wrong token gets one line and nothing else.
    """
    if gate_open():
        return
    expected = settings.token()
    given = st.text_input("Access token", type="password", key=state.TOKEN_INPUT)
    if given:
        if hmac.compare_digest(given.encode(), expected.encode()):
            st.session_state[state.TOKEN_OK] = True
            st.rerun()  # draw the app without the token field
        st.error("Wrong access token.")
    st.stop()
