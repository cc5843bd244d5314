"""Customer surveys after resolution: answers and CSV import, the link on the resolution reply or a follow-up message,
the public form."""

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
from engine.surveys.follow_up import CHECK_SECONDS as FOLLOW_UP_CHECK_SECONDS
from engine.surveys.follow_up import send_follow_ups
from engine.surveys.form import build_survey_router
from engine.surveys.links import (
    METHODS,
    SurveySettings,
    ask_for_person,
    submit_answer,
    survey_table,
    token_state,
    with_links,
)

__all__ = [
    "CES_RANGE",
    "CSAT_RANGE",
    "FOLLOW_UP_CHECK_SECONDS",
    "METHODS",
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
    "send_follow_ups",
    "submit_answer",
    "survey_table",
    "token_state",
    "with_links",
]
