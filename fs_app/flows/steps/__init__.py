"""Steps shared by the callee and inbound legs (the jambonz verbs, in gevent): each leg's flow is
the order it calls them in.

* :mod:`.announce`: play a prompt (to its end, or until the opt-out key cuts it);
* :mod:`.consent`: ask for recording consent (B2) and the evidence of the answer;
* :mod:`.optout`: the opt-out key pressed (B3): do-not-call, consent revoked, confirmation;
* :mod:`.record`: start the recording (only after an explicit agree key, B2);
* :mod:`.settle`: the end of the call: FreeSWITCH's times, the charge, the record's outcome.

The keys are settings (``consent_agree_key``, ``consent_decline_key``: B2; ``optout_key``: B3).
"""
