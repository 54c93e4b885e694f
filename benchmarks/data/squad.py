"""SQuAD-format JSON (`{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}`) as flat rows
with the Hub's columns: `id`, `title`, `context`, `question`, `answers{text, answer_start}`."""

from __future__ import annotations


def flatten_squad(data: dict) -> list[dict]:
    rows: list[dict] = []
    for article in data["data"]:
        for para in article.get("paragraphs", []):
            for qa in para.get("qas", []):
                answers = qa.get("answers", [])
                rows.append(
                    {
                        "id": str(qa.get("id", len(rows))),
                        "title": article.get("title", ""),
                        "context": para["context"],
                        "question": qa["question"],
                        "answers": {
                            "text": [a["text"] for a in answers],
                            "answer_start": [int(a["answer_start"]) for a in answers],
                        },
                    }
                )
    return rows
