"""Customer surveys after resolution: answers and CSV import, the link on the resolution reply, the public form."""

from engine.surveys.answers import (
    CES_RANGE,
    CSAT_RANGE,
    ImportReport,
    SurveyError,
    create_survey,
    find_survey,
    import_answers,
    import_answers_csv,
    new_token,
    record_answer,
)
from engine.surveys.form import build_survey_router
from engine.surveys.links import SurveySettings, ask_for_person, submit_answer, token_state, with_links

__all__ = [
    "CES_RANGE",
    "CSAT_RANGE",
    "ImportReport",
    "SurveyError",
    "SurveySettings",
    "ask_for_person",
    "build_survey_router",
    "create_survey",
    "find_survey",
    "import_answers",
    "import_answers_csv",
    "new_token",
    "record_answer",
    "submit_answer",
    "token_state",
    "with_links",
]
