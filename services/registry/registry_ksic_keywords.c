/*  registry_ksic_keywords — the curated keywords by which the registry infers KSIC divisions
    from a text (registry_infer.c): technology domains, in English and Korean.

    English keywords are one or two words and are compared after analysis (oim_analyze:
    case-folded, Snowball-stemmed), so "battery" also finds "batteries" and "optics" finds
    "optical". Korean keywords (two syllables or more) are found inside any Korean word, so
    "재활용" is found in "폐배터리재활용". A keyword names its domain on its own: words that
    every demand uses ("system", "기술", "개발") are never keywords. Every code is a division
    of registry_taxonomy.c (the unit test checks). Read-only data.
*/
#include "registry.h"

static const registry_ksic_keywords_t s_keywords [] = {
    { "A01", { "agriculture", "agricultural", "farming", "farm", "crop", "crops", "livestock",
               "greenhouse", "smart farm", "agritech", "fertilizer", "irrigation",
               "농업", "농산물", "작물", "스마트팜", "축산", "비료", "온실", "농가", NULL } },
    { "C10", { "food", "foods", "foodtech", "nutrition", "alternative protein", "plant based",
               "meat", "dairy", "식품", "푸드", "대체육", "가공식품", "식자재", "영양", "간편식",
               NULL } },
    { "C20", { "chemical", "chemicals", "chemistry", "catalyst", "polymer", "polymers",
               "coating", "coatings", "solvent", "adhesive", "화학", "촉매", "고분자", "코팅",
               "접착제", "화학물질", NULL } },
    { "C21", { "pharmaceutical", "pharmaceuticals", "drug discovery", "drug", "drugs",
               "therapeutic", "therapeutics", "vaccine", "antibody", "biologics",
               "의약품", "신약", "제약사", "제약회사", "백신", "항체", "치료제", "바이오의약",
               NULL } },
    { "C22", { "plastic", "plastics", "rubber", "packaging film", "플라스틱", "고무", "포장재",
               NULL } },
    { "C26", { "semiconductor", "semiconductors", "chip", "chips", "wafer", "sensor",
               "sensors", "display", "electronics", "electronic", "circuit", "pcb", "lidar",
               "microcontroller", "rf", "반도체", "센서", "디스플레이", "전자부품", "회로",
               "웨이퍼", "라이다", "전자소자", NULL } },
    { "C27", { "optics", "optical", "photonics", "laser", "lasers", "lens", "microscope",
               "medical device", "medical devices", "ultrasound", "spectrometer",
               "metrology", "광학", "레이저", "렌즈", "의료기기", "정밀기기", "현미경",
               "초음파", "계측기", "진단기기", NULL } },
    { "C28", { "battery", "batteries", "lithium", "charger", "charging", "inverter",
               "transformer", "energy storage", "power electronics", "electrical equipment",
               "배터리", "이차전지", "전지", "충전", "충전기", "인버터", "변압기",
               "에너지저장", "전기장비", NULL } },
    { "C29", { "machinery", "robot", "robots", "robotics", "manipulator", "actuator",
               "actuators", "cnc", "pump", "compressor", "machine tool", "기계", "로봇",
               "액추에이터", "공작기계", "펌프", "압축기", "자동화설비", NULL } },
    { "C30", { "automotive", "vehicle", "vehicles", "car", "cars", "autonomous driving",
               "electric vehicle", "electric vehicles", "자동차", "전기차", "자율주행",
               "차량", "완성차", "자동차부품", NULL } },
    { "C31", { "aircraft", "aerospace", "aviation", "satellite", "satellites", "spacecraft",
               "rocket", "drone", "drones", "uav", "ship", "ships", "shipbuilding", "railway",
               "항공", "우주", "위성", "드론", "선박", "조선", "철도", "발사체", "항공기",
               NULL } },
    { "D35", { "energy", "electricity", "solar", "photovoltaic", "wind turbine", "wind power",
               "hydrogen", "fuel cell", "smart grid", "power grid", "renewable", "renewables",
               "에너지", "태양광", "풍력", "수소", "전력", "신재생", "연료전지", "발전소",
               "전력망", NULL } },
    { "E38", { "recycling", "recycle", "recycled", "waste", "upcycling", "circular economy",
               "landfill", "재활용", "폐기물", "폐배터리", "자원순환", "업사이클링",
               "리사이클링", "폐플라스틱", NULL } },
    { "E39", { "remediation", "pollution", "contamination", "decontamination",
               "오염", "정화", "토양오염", "수질오염", NULL } },
    { "F41", { "construction", "building", "buildings", "architecture", "건설", "건축",
               "시공", "건물", "스마트건설", NULL } },
    { "F42", { "plumbing", "demolition", "interior", "인테리어", "배관", "철거", NULL } },
    { "H49", { "freight", "trucking", "last mile", "parcel", "transportation", "운송",
               "화물", "배송", "택배", NULL } },
    { "H52", { "logistics", "warehouse", "warehousing", "supply chain", "fulfillment",
               "물류", "창고", "물류센터", "공급망", NULL } },
    { "J58", { "software", "saas", "mobile app", "app", "game", "games", "publishing",
               "소프트웨어", "게임", "출판", "모바일앱", NULL } },
    { "J61", { "telecommunication", "telecommunications", "telecom", "wireless", "5g", "6g",
               "network", "networks", "통신", "무선", "이동통신", "네트워크", NULL } },
    { "J62", { "artificial intelligence", "ai", "machine learning", "deep learning",
               "algorithm", "algorithms", "computer vision", "cybersecurity", "blockchain",
               "programming", "인공지능", "머신러닝", "딥러닝", "알고리즘", "컴퓨터비전",
               "사이버보안", "블록체인", "정보보안", NULL } },
    { "J63", { "data", "database", "big data", "analytics", "cloud", "search engine",
               "hosting", "데이터", "빅데이터", "클라우드", "데이터베이스", "포털", NULL } },
    { "K64", { "fintech", "banking", "bank", "payment", "payments", "lending", "loan", "loans",
               "credit", "핀테크", "금융", "은행", "결제", "대출", "신용", NULL } },
    { "K65", { "insurance", "insurtech", "pension", "보험", "인슈어테크", "연금", NULL } },
    { "K66", { "brokerage", "asset management", "securities", "wealth management", "증권",
               "자산관리", "자산운용", NULL } },
    { "M70", { "laboratory", "biotechnology", "biotech", "contract research", "연구소",
               "실험실", "바이오기술", NULL } },
    { "M72", { "engineering", "simulation", "inspection", "surveying", "cad", "엔지니어링",
               "시뮬레이션", "검사", "측량", "비파괴검사", NULL } },
    { "P85", { "education", "edtech", "school", "schools", "students", "tutoring",
               "teaching", "curriculum", "교육", "에듀테크", "학습", "학생", "강의", "학교",
               NULL } },
    { "Q86", { "healthcare", "health", "hospital", "hospitals", "patient", "patients",
               "clinical", "diagnosis", "diagnostics", "telemedicine", "medical",
               "헬스케어", "의료", "병원", "환자", "진단", "임상", "원격진료", "건강", NULL } },
};

const registry_ksic_keywords_t *
registry_ksic_keywords (size_t *count)
{
    *count = sizeof s_keywords / sizeof s_keywords [0];
    return s_keywords;
}
