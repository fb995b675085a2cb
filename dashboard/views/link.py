"""The page an e-mail link opens (`/link?t=TOKEN`): no account, the link is the credential.

The contact and the delegate walk the setup wizard of their order; an org administrator
answers the one approval request the link was sent for. A link that is not valid (wrong,
expired, revoked, or tried too often) gets one calm page, the same whatever the cause,
which never tells whether an order exists.
"""

from __future__ import annotations

import streamlit as st

from dashboard import link_access, link_approval, link_wizard
from dashboard.i18n import LANGUAGE_KEY, LANGUAGE_NAMES, _
from provisioning import i18n
from provisioning.errors import ProvisioningError
from provisioning.states import LinkRole


def language_switch() -> None:
    _space, switch = st.columns([4, 1])
    switch.selectbox(
        "Language / Språk",
        i18n.LANGUAGES,
        key=LANGUAGE_KEY,
        format_func=LANGUAGE_NAMES.__getitem__,
        label_visibility="collapsed",
    )


def not_valid() -> None:
    """One page for every refusal: nothing on it depends on why, or on the order."""
    st.title(_("This link is not valid any more"))
    st.info(
        _(
            "Links in our e-mails work for a limited time, and only the latest one sent "
            "to you works."
        ),
        icon=":material/link_off:",
    )
    st.markdown(
        _(
            "To get a new link, reply to the e-mail you received, or ask your partner or "
            "whoever sent you the e-mail to send it again."
        )
    )
    st.caption(_("Reloaded this page? Open the link in the e-mail once more."))


actor = link_access.current()
language_switch()
done = st.session_state.get(link_access.DONE_KEY)
if isinstance(done, link_access.Done) and actor in (None, done.actor):
    if done.actor.role is LinkRole.APPROVER:
        link_approval.finished(done)
    else:
        link_wizard.finished(done)
elif actor is None:
    not_valid()
else:
    try:
        if actor.role is LinkRole.APPROVER:
            link_approval.page(actor)
        else:
            link_wizard.page(actor)
    except ProvisioningError:  # the order changed under the page: no traceback, no detail
        not_valid()
