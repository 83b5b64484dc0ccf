"""Real text for the sample feeds: the non-ASCII that job listings carry, in realistic shares.

The benchmark's ASCII-only feeds hid what non-ASCII text costs the parsers (one translate call
took most of a feed's parse time on real listings); ``sample_jobs(text="real")`` draws its
listings from these locales instead.
"""

# ruff: noqa: RUF001  (the typographic quotes, dashes, full-width and Cyrillic letters are the point)

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    """Listings in one language: titles, companies, places and a description sentence."""

    weight: float  # share of listings in this language
    titles: tuple[str, ...]
    companies: tuple[str, ...]
    locations: tuple[str, ...]
    sentence: str  # {title} {company} {thing} {place} {years} {skill} {salary}
    things: tuple[str, ...]


# Real feeds (Jobicy, We Work Remotely, national boards) are mostly English written in editors
# that type typographic quotes, apostrophes and dashes, with accented names of people, places and
# companies, salaries in several currencies, and a minority of listings in other languages.
# The weights below give 80 % English listings, 13 % in Western European languages and 7 % in
# Japanese, Chinese and Russian. Of 2,000 listings (seed 7): every description has non-ASCII
# text (typographic punctuation at least), 12 % of titles, 33 % of companies and 42 % of
# locations have non-ASCII letters.
LOCALES = (
    Locale(
        0.80,
        ("Senior Python Engineer", "Data Scientist", "Product Designer", "Social Media Manager",
         "Copywriter", "Account Executive", "Engineering Manager", "DevOps Engineer",
         "Customer Success Lead", "Machine Learning Engineer", "Content Strategist", "QA Analyst"),
        ("Acme Remote", "Globex", "Initech", "Umbrella Labs", "Hooli", "Nestlé Digital",
         "Zoë’s Kitchen", "Wayne Analytics", "Stark Digital", "Cyberdyne"),
        ("USA", "Europe", "Anywhere", "Zürich", "UK", "Montréal", "Canada", "APAC", "Kraków", "LATAM"),
        "<p>As our {title} at {company}, you’ll own {thing} and work with a team across {place} — "
        "“clear writing” matters here. Requirements: {years}+ years, <strong>{skill}</strong>; "
        "salary {salary} • benefits.</p>",
        ("pipelines", "campaigns", "roadmaps", "dashboards"),
    ),
    Locale(
        0.05,
        ("Senior Softwareentwickler (m/w/d)", "Datenanalyst", "Produktdesignerin", "Kundenbetreuer"),
        ("Müller & Söhne GmbH", "Bäckerei Weiß", "Grüne Energie AG"),
        ("München", "Köln", "Zürich", "Österreich"),
        "<p>Als {title} bei {company} verantworten Sie {thing} in {place}. Sie bringen {years}+ Jahre "
        "Erfahrung mit <strong>{skill}</strong> mit; Gehalt {salary} „nach Vereinbarung“.</p>",
        ("Datenflüsse", "Kampagnen", "Auswertungen", "Prüfprozesse"),
    ),
    Locale(
        0.04,
        ("Développeur·se Python senior", "Chargé de communication", "Ingénieur qualité", "Responsable RH"),
        ("Crédit Agricole", "Société Générale", "L’Oréal", "Éditions Gallimard"),
        ("Paris", "Montréal", "Genève", "Orléans"),
        "<p>En tant que {title} chez {company}, vous piloterez {thing} à {place}. Expérience : "
        "{years} ans et plus, <strong>{skill}</strong> ; rémunération {salary} « selon profil ».</p>",
        ("les flux de données", "les campagnes", "la qualité", "le déploiement"),
    ),
    Locale(
        0.04,
        ("Ingeniero de datos", "Diseñador/a de producto", "Desenvolvedor back-end", "Gerente de operações"),
        ("Telefónica", "Mercado Libre", "Itaú Unibanco", "Natura &Co"),
        ("Bogotá", "São Paulo", "Málaga", "Ciudad de México"),
        "<p>Como {title} en {company}, serás responsable de {thing} en {place}. Requisitos: "
        "{years}+ años con <strong>{skill}</strong>; salario {salary} (¡trabajo remoto!).</p>",
        ("los datos", "las campañas", "la operação", "el diseño"),
    ),
    Locale(
        0.03,
        ("シニアPythonエンジニア", "データサイエンティスト", "プロダクトデザイナー"),
        ("株式会社メルカリ", "楽天グループ株式会社", "サイボウズ"),
        ("東京", "大阪", "リモート（日本国内）"),
        "<p>{company}で{title}として{thing}を担当します。勤務地：{place}。"
        "<strong>{skill}</strong>の実務経験{years}年以上。年収{salary}。</p>",
        ("データ基盤", "広告配信", "決済システム"),
    ),
    Locale(
        0.02,
        ("高级后端工程师", "数据分析师", "产品经理"),
        ("阿里巴巴集团", "腾讯科技", "字节跳动"),
        ("上海", "深圳", "远程"),
        "<p>作为{company}的{title}，你将负责{thing}（{place}）。要求：{years}年以上"
        "<strong>{skill}</strong>经验；薪资{salary}。</p>",
        ("数据平台", "推荐系统", "支付业务"),
    ),
    Locale(
        0.02,
        ("Старший Python-разработчик", "Аналитик данных", "Менеджер продукта"),
        ("Яндекс", "Лаборатория Касперского", "Тинькофф"),
        ("Москва", "Санкт-Петербург", "Удалённо"),
        "<p>В роли «{title}» в компании {company} вы будете отвечать за {thing} ({place}). "
        "Опыт — от {years} лет, <strong>{skill}</strong>; зарплата {salary}.</p>",
        ("платформу данных", "рекламные кампании", "платёжные сервисы"),
    ),
)  # fmt: skip
SALARIES = (
    "$120,000–$150,000",
    "€60.000–€75.000",
    "£55,000",
    "¥8,000,000",
    "₹25 LPA",
    "CHF 110’000",
    "₽250 000",
)
SKILLS = ("Python", "SQL", "Figma", "Go", "Excel")
