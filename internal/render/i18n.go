package render

// korean holds the Korean for the words pgwalk puts around the notes. The
// notes themselves are translated files; the observed values keep their
// vocabulary names in every language.
var korean = map[string]string{
	"Phase":                               "단계",
	"Branch":                              "분기",
	"Closing check":                       "마무리 검증",
	"What happened":                       "실제로 일어난 일",
	"Every value at this stop":            "이 정지 지점의 모든 값",
	"Keys":                                "키",
	"next page, then the next stop":       "다음 쪽, 그다음 정지 지점",
	"previous page, then an earlier note": "이전 쪽, 그다음 앞의 노트",
	"one line down / up":                  "한 줄 아래 / 위",
	"next / previous page of this stop":   "이 정지 지점의 다음 / 이전 쪽",
	"every value observed at this stop":   "이 정지 지점에서 관찰된 모든 값",
	"show the source lines and go to them, or hide them": "소스 줄을 보여 주고 그리로 가기, 또는 숨기기",
	"first / latest note":                                "처음 / 최근 노트",
	"the note of that phase":                             "그 단계의 노트",
	"this help: the next key closes it":                  "이 도움말: 다음 키를 누르면 닫힙니다",
	"quit: the processes are stopped, all cleaned up":    "끝내기: 프로세스를 멈추고 모두 정리합니다",
	"interrupt (exit 130), all cleaned up too":           "중단(종료 코드 130), 역시 모두 정리합니다",
	"no rewind":                    "되돌아가 보는 것은 노트뿐이며 프로세스는 되감기지 않습니다.",
	"? keys":                       "? 키",
	"q quit":                       "q quit",
	"reviewing stop %d of %d":      "%d/%d번째 정지 지점을 다시 보는 중",
	"Enter: more":                  "Enter: 더 보기",
	"the end: Enter finishes":      "끝: Enter를 누르면 마칩니다",
	"nothing new":                  "이 정지 지점에서 새로 관찰된 값은 없습니다(v를 누르면 모든 값을 봅니다).",
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
	"nothing new":                  "Nothing new was observed at this stop (v shows every value).",
	"no rewind":                    "Going back shows earlier notes: the processes do not rewind.",
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
