"""The drafted steps follow the lead that was chosen: a lead chosen elsewhere acts on its own
duty, and the district centre holding an event whose street is unknown finds the street first."""

from __future__ import annotations

from domain.vocabulary import Level, Urgency
from knowledge import Knowledge
from tools.drafting import draft_order


def test_a_chosen_lead_acts_on_its_own_duty(knowledge: Knowledge) -> None:
    street = next(j.code for j in knowledge.jurisdictions.values() if j.name == "解放碑街道")
    plain = draft_order(
        knowledge, event_id=1, subtype="CA01", jurisdiction=street, urgency=Urgency.NORMAL
    )
    district = street[:6]
    centre = knowledge.department("governance_center", district, Level.DISTRICT).code
    chosen = draft_order(
        knowledge,
        event_id=1,
        subtype="CA01",
        jurisdiction=street,
        urgency=Urgency.NORMAL,
        lead_override=centre,
        lead_duties=["GC-01"],
    )
    assert knowledge.duties["GC-01"].text in chosen.steps[1]
    assert knowledge.duties["GC-01"].text not in plain.steps[1]
    assert "开展处置" in chosen.steps[1] and "核实事发街道" not in chosen.steps[1]
    unknown = draft_order(
        knowledge,
        event_id=1,
        subtype="CA01",
        jurisdiction=district,
        urgency=Urgency.NORMAL,
        lead_override=centre,
        lead_duties=["GC-01"],
        street_unknown=True,
    )
    assert unknown.steps[1].startswith(f"依据职责「{knowledge.duties['GC-01'].text}」")
    assert "核实事发街道（镇），改派该街道（镇）处置" in unknown.steps[1]


def test_a_sub_case_article_is_cited_when_the_report_names_its_case(
    knowledge: Knowledge,
) -> None:
    street = next(j.code for j in knowledge.jurisdictions.values() if j.name == "解放碑街道")
    # a subtype whose name names none of its sub-cases
    st = next(
        s
        for s in knowledge.subtypes.values()
        if any(r.when for r in s.regulations)
        and not any(r.when and r.names_case(s.name) for r in s.regulations)
    )
    ref = next(r for r in st.regulations if r.when)
    plain = f"{st.name}，请处理"

    def cited(text: str) -> list[tuple[str, str]]:
        order = draft_order(
            knowledge,
            event_id=1,
            subtype=st.code,
            jurisdiction=street,
            urgency=Urgency.NORMAL,
            text=text,
        )
        return [(c.title, c.article) for c in order.legal_basis]

    general = [(r.title, r.article) for r in st.regulations if not r.when]
    assert cited(plain) == general
    assert (ref.title, ref.article) in cited(f"{plain}，{ref.when[-1]}")
