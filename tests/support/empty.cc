// keeps ck_testsupport non-empty
