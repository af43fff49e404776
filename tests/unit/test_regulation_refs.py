"""Every regulation a subtype cites must exist, with that article, in the real corpus."""

import re
from pathlib import Path

from knowledge import Knowledge

ARTICLE = re.compile(
    r"^(第[一二三四五六七八九十百千零〇]+条(?:之[一二三四五六七八九十]+)?)\s", re.M
)


def test_cited_articles_exist_in_the_official_texts(
    knowledge: Knowledge, shared_data: Path
) -> None:
    corpus = shared_data / "regulations"
    missing = []
    checked = 0
    for st in knowledge.subtypes.values():
        for ref in st.regulations:
            path = corpus / f"{ref.title}.md"
            if not path.exists():
                missing.append(f"{st.code}: no law titled {ref.title}")
                continue
            body = path.read_text(encoding="utf-8").split("<!-- INFO END -->", 1)[-1]
            if ref.article not in set(ARTICLE.findall(body)):
                missing.append(f"{st.code}: {ref.title} has no {ref.article}")
            checked += 1
    assert checked >= 100
    assert missing == []
