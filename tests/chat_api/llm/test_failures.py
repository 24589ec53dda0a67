"""One mapping from either client library's exceptions to the service's LLM errors."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest

from chat_api.errors import LLMError, LLMFailed, LLMUnreachable
from chat_api.llm import anthropic as anthropic_provider
from chat_api.llm import openai_compat
from chat_api.llm.failures import ClientErrors, error_message, provider_errors

REQUEST = httpx2.Request("POST", "http://llm/v1/messages")
RESPONSE = httpx2.Response(529, request=REQUEST)

CLIENTS = {
    "openai": (openai_compat.CLIENT_ERRORS, openai),
    "anthropic": (anthropic_provider.CLIENT_ERRORS, anthropic),
}


def _raised(errors: ClientErrors, exc: Exception) -> LLMError:
    with pytest.raises(LLMError) as caught, provider_errors(errors, "The API (model m)", provider="p", model="m"):
        raise exc
    assert caught.value.__cause__ is exc
    return caught.value


@pytest.mark.parametrize("client", CLIENTS)
def test_no_answer_in_time_and_no_connection_are_unreachable(client: str) -> None:
    errors, library = CLIENTS[client]
    timeout = _raised(errors, library.APITimeoutError(request=REQUEST))
    refused = _raised(errors, library.APIConnectionError(request=REQUEST))
    assert isinstance(timeout, LLMUnreachable) and timeout.message == "The API (model m) did not answer in time."
    assert isinstance(refused, LLMUnreachable) and refused.message == "The API (model m) cannot be reached."


@pytest.mark.parametrize("client", CLIENTS)
def test_an_error_status_quotes_the_providers_own_words(client: str) -> None:
    errors, library = CLIENTS[client]
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    failed = _raised(errors, library.APIStatusError("Error code: 529 - {...}", response=RESPONSE, body=body))
    assert isinstance(failed, LLMFailed)
    assert failed.message == "The API (model m) answered 529: Overloaded."
    assert failed.upstream_status == 529 and failed.provider == "p" and failed.model == "m"


@pytest.mark.parametrize("client", CLIENTS)
def test_a_reply_the_client_cannot_read_is_a_failure_without_a_status(client: str) -> None:
    errors, library = CLIENTS[client]
    failed = _raised(errors, library.APIResponseValidationError(response=RESPONSE, body=None, message="bad shape"))
    assert isinstance(failed, LLMFailed) and failed.upstream_status is None
    assert failed.message == "The API (model m) sent a reply that could not be read: bad shape."


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), provider_errors(openai_compat.CLIENT_ERRORS, "x", provider="p", model="m"):
        raise KeyError("bug")


def test_error_messages_are_taken_from_the_body_when_there_is_one() -> None:
    def status_error(body: object) -> openai.APIStatusError:
        return openai.APIStatusError("fallback text", response=RESPONSE, body=body)

    assert error_message(status_error({"error": {"message": "tools are not supported"}})) == "tools are not supported"
    assert error_message(status_error({"error": "model not found"})) == "model not found"
    assert error_message(status_error("plain")) == "fallback text"
