"""English lexicon: VADER's word list (MIT, read from the installed package) plus our own."""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = [
    "BOOSTERS",
    "CONTRAST",
    "DIMINISHERS",
    "EXPECTATIONS",
    "FUNCTION_WORDS",
    "IDIOMS",
    "IRREALIS",
    "NEGATORS",
    "SARCASM",
    "TRANSPARENT",
    "WORDS",
    "load_vader_lexicon",
]


def load_vader_lexicon() -> dict[str, float]:
    """Read VADER's word valences from the installed `vaderSentiment` package.

    VADER (Hutto & Gilbert, ICWSM 2014) is MIT-licensed; its lexicon is used as
    published, read at run time from the package rather than copied into this project.
    Returns an empty mapping when the package is not installed, so the analyzer still
    works on the project's own words.
    """
    try:
        text = (
            resources.files("vaderSentiment")
            .joinpath("vader_lexicon.txt")
            .read_text(encoding="utf-8")
        )
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        value = rest.partition("\t")[0]
        if word and value:
            lexicon[word] = float(value)
    return lexicon


def _block(valence: float, words: str) -> dict[str, float]:
    return dict.fromkeys(words.split(), valence)


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


# The project's own additions and overrides: customer-service failures and everyday
# negative events that VADER leaves out or rates as neutral.
WORDS: Final[dict[str, float]] = {
    **_block(
        -2.6,
        """
        scam scammed scammer scammers ripoff rip-off fraud fraudulent unacceptable
        outrageous disgrace disgraceful incompetent incompetence horrendous atrocious
        appalling abysmal dreadful shambles nightmare garbage trash rubbish unusable
        fml wtf ffs omfg smfh
        """,
    ),
    **_block(
        -1.8,
        """
        overcharged overcharge overcharging outage outages unreliable unresponsive
        broken crashed crashing crashes glitchy buggy laggy faulty defective damaged
        disconnected misleading mislead misled shady sketchy bullshit bs lousy
        ridiculous joke clueless ignored ignoring unhelpful frustrating frustrated
        annoyed annoying infuriating livid pissed furious disappointing ugh smh
        sucked horrible poorly refused refuse denied worse unfair hacked stolen
        rude liar liars lied lying fake corrupt hurts hurt pain crying cried cry
        sadly unfortunately rip
        """,
    ),
    **_block(
        -1.0,
        """
        cancelled canceled delayed delay delays late missing lost stuck waiting
        glitch bug error errors issue issues problem problems
        slow slowly confusing confused unclear complicated hassle mess messed
        disconnect dropped drops postponed expensive overpriced pricey tired meh
        sigh boring bored lonely worried worry nervous anxious scared afraid
        struggling struggle lack lacking fail failed fails failure
        """,
    ),
    **_block(1.4, "helpful quick quickly fast smooth resolved fixed sorted thx ty tysm"),
    # The words of routine service requests, neutral by themselves: "please block my
    # card", "cancel my order", "what is the fee", "hold my parcel", "will I be charged".
    # VADER rates some of them from their general senses ("charged" with a crime, "block"
    # an opponent); the complaint senses live in phrases (IDIOMS: "on hold", "charged
    # twice", "hidden fees") and in the churn cues ("cancel my account").
    **_block(0.0, "hold fee fees charge charged cancel block"),
    # "like" is mostly a preposition or a hedge ("looks like my order is lost", "waiting
    # like 3 hours"); the verb of liking is kept in IDIOMS ("i like") and, negated, in
    # EXPECTATIONS ("don't like").
    "like": 0.0,
    # The speech-act words of a request rate as good things in isolation (VADER: "help"
    # 1.7, "please" 1.3, "hope" 1.9), but "please help, my internet is down" praises
    # nothing. Praise has its own forms ("helpful", "you helped"); "didn't help" is still
    # a failure (EXPECTATIONS); "hope" opens a wish (IRREALIS).
    **_block(0.0, "please pls plz help hope"),
    # Answers and acknowledgements, not approval: "Yes, it is still broken", "ok, when?".
    **_block(0.0, "yes yeah yep ok okay"),
}

# Negated, these are service failures ("doesn't work", "never arrived", "no signal").
EXPECTATIONS: Final[dict[str, float]] = {
    **_block(
        -2.0,
        """
        work works working worked help helps helped helping respond responded
        responding answer answered answering arrive arrived arriving receive
        received deliver delivered load loading loads connect connecting connected
        fix fixed resolve resolved refund refunded reply replied call called
        return returned reach reached access login log sign open opens opening
        show showed showing come came get got getting
        """,
    ),
    **_block(-1.6, "signal service response reply internet wifi connection refund update"),
    "like": -1.1,  # VADER's 1.5 for "like", negated as VADER negates
}

NEGATORS: Final[frozenset[str]] = _words(
    """
    not no never none nobody nothing nowhere neither nor without nope cannot aint
    arent cant couldnt didnt doesnt dont hadnt hasnt havent isnt wasnt werent wont
    wouldnt shouldnt mustnt neednt ain't aren't can't couldn't didn't doesn't don't
    hadn't hasn't haven't isn't wasn't weren't won't wouldn't shouldn't mustn't
    needn't
    """
)

BOOSTERS: Final[frozenset[str]] = _words(
    """
    absolutely amazingly awfully completely considerably decidedly deeply effing
    enormously entirely especially exceptionally extremely fabulously flipping
    flippin fricking frickin frigging friggin fully fucking fuckin greatly hella
    highly hugely incredibly intensely majorly particularly purely quite really
    remarkably so soo sooo soooo substantially thoroughly totally tremendously uber
    unbelievably unusually utterly very super seriously literally way too
    """
)

# Open a hypothetical clause: praise in it is wished for, not given ("it would be nice
# if someone answered"). Irrealis blocking after Taboada et al. (2011), SO-CAL.
IRREALIS: Final[frozenset[str]] = _words(
    "would could should might if wish unless hopefully hope hoping"
)

# Never chosen as the anchor of a multi-word cue phrase: too frequent.
FUNCTION_WORDS: Final[frozenset[str]] = _words(
    """
    a an the to of in on for with my your our me you i we it is are be been not no do
    can at by from this that again still as how many time times
    """
)

# Words a negation passes over: "can't even log in", "not really helpful".
TRANSPARENT: Final[frozenset[str]] = _words(
    """
    even be been being ever yet actually
    """
)

DIMINISHERS: Final[frozenset[str]] = _words(
    """
    almost barely hardly kinda kindof marginally occasionally partly scarcely
    slightly somewhat sorta little bit
    """
)

CONTRAST: Final[frozenset[str]] = frozenset(["but", "however", "although", "though"])

IDIOMS: Final[dict[str, float]] = {
    "can't wait": 2.4,
    "cant wait": 2.4,
    "cannot wait": 2.4,
    "can't complain": 1.0,
    "no worries": 1.0,
    "no doubt": 0.8,
    "not only": 0.0,
    "never mind": 0.0,
    "no matter": 0.0,
    "not sure": -0.4,
    # Fixed expressions whose negation denies nothing the writer expected: no failure in
    # "no need to call back" or "you don't have to reply", no complaint in "can't get
    # enough" or "don't get me wrong"; the rest of the text carries the sentiment.
    "can't get enough": 2.0,
    "cant get enough": 2.0,
    "cannot get enough": 2.0,
    "don't get me wrong": 0.0,
    "dont get me wrong": 0.0,
    "no wonder": 0.0,
    "no offense": 0.0,
    "can't believe": 0.0,
    "cant believe": 0.0,
    "cannot believe": 0.0,
    "no need": 0.0,
    "don't need to": 0.0,
    "dont need to": 0.0,
    "do not need to": 0.0,
    "doesn't need to": 0.0,
    "don't have to": 0.0,
    "dont have to": 0.0,
    "do not have to": 0.0,
    "doesn't have to": 0.0,
    "kind of": 0.0,
    "sort of": 0.0,
    "thank you": 2.0,
    # Names, not praise: the department a customer contacted ("called customer care three
    # times"), "kind" the noun ("what kind of card"), "as well", "make sure".
    "customer care": 0.0,
    "customer support": 0.0,
    "tech support": 0.0,
    "technical support": 0.0,
    "support team": 0.0,
    "care team": 0.0,
    "what kind": 0.0,
    "which kind": 0.0,
    "this kind": 0.0,
    "that kind": 0.0,
    "any kind": 0.0,
    "some kind": 0.0,
    "the kind": 0.0,
    "all kinds": 0.0,
    "as well": 0.0,
    "make sure": 0.0,
    "i like": 1.5,
    "we like": 1.5,
    "really like": 1.5,
    "well done": 2.4,
    "hung up": -1.8,
    "on hold": -1.2,
    "charged twice": -1.8,
    "charged me twice": -1.8,
    "double charged": -1.8,
    "hidden fees": -1.8,
    "hidden fee": -1.8,
    "hidden charges": -1.8,
    # "issue" the verb of a service request, not the noun of a problem report.
    "issue a": 0.0,
    "issue me": 0.0,
    "issue the": 0.0,
    "still waiting": -1.8,
    "still not": -1.2,
    "waste of time": -2.4,
    "waste of money": -2.4,
    "rip off": -2.4,
    "fed up": -2.4,
    "sick of": -2.4,
    "tired of": -2.0,
    "let down": -1.8,
    "screwed up": -2.4,
    "what a joke": -2.4,
    "shut up": -1.6,
    "look forward": 2.0,
    "looking forward": 2.0,
    "happy birthday": 2.4,
    # Politeness formulas of a request: the apology is a courtesy, not a grievance.
    "sorry to bother": 0.0,
    "sorry for bothering": 0.0,
    "sorry to trouble": 0.0,
    "sorry for the trouble": 0.0,
    "sorry for the late reply": 0.0,
    "sorry for the late response": 0.0,
    "sorry for the delay": 0.0,
    "hate to bother": 0.0,
    # A missed call is an event to ask about ("I missed a call from this number").
    "missed call": 0.0,
    "missed a call": 0.0,
    "missed your call": 0.0,
    "rest in peace": -1.6,
}

SARCASM: Final[dict[str, float]] = {
    "yeah right": -1.6,
    "thanks for nothing": -2.4,
    "thanks a lot": 0.0,
    "oh great": -0.8,
    "just great": -0.8,
    "gotta love": 0.0,
    "so much for": -1.2,
    "as usual": -1.2,
    "what a surprise": -0.8,
    # "I love how my internet drops every hour": the praise verb frames what follows, and
    # the sentiment is that of the rest ("love how fast it was" stays praise).
    "love how": 0.0,
    "love it when": 0.0,
    "love when": 0.0,
    "loving how": 0.0,
    "love the fact": 0.0,
}
