package render

// korean holds the Korean for the words pgwalk puts around the notes. The
// notes themselves are translated files; the observed values keep their
// vocabulary names in every language.
var korean = map[string]string{
	"Phase":                        "단계",
	"Branch":                       "분기",
	"Closing check":                "마무리 검증",
	"What happened":                "실제로 일어난 일",
	"Also observed":                "그 밖에 관찰된 것",
	"Checks":                       "검증",
	"Log":                          "로그",
	"at":                           "위치",
	"connection":                   "연결",
	"driver":                       "드라이버",
	"head first":                   "머리부터",
	"empty":                        "비어 있음",
	"the record in the postmaster": "포스트마스터가 가진 레코드",
	"narration":                    "서술 모드: 실행된 프로세스가 없어 관찰된 값이 없습니다. 기본 드라이버인 reenact가 실제 값을 보여 줍니다.",
	"nothing":                      "이 정지 지점에서는 관찰된 것이 없습니다.",
	"more of":                      "%s 단계의 계속입니다. 노트는 이 단계의 첫 정지 지점에서 보여 주었습니다(b를 누르면 다시 봅니다).",
	"fell back":                    "이 단계에는 아직 %q 노트가 없어 영어 노트를 보여 줍니다.",
}

var english = map[string]string{
	"narration":                    "Narration only: no process ran, so nothing was observed. The default driver, reenact, shows real values.",
	"nothing":                      "Nothing was observed at this stop.",
	"more of":                      "More of %s: the note was shown at the phase's first stop (press b to see it again).",
	"fell back":                    "No %q note for this phase yet: showing the English one.",
	"the record in the postmaster": "the record in the postmaster",
}

// tr returns the text of key in lang, English when lang has none.
func tr(lang, key string) string {
	if lang == "ko" {
		if s, ok := korean[key]; ok {
			return s
		}
	}
	if s, ok := english[key]; ok {
		return s
	}
	return key
}
