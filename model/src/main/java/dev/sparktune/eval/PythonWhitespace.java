package dev.sparktune.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Whitespace as Python's {@code str.split()} / {@code str.rstrip()} see it ({@code str.isspace()}: Unicode
 * categories Zs, Zl, Zp and the bidirectional classes B, S, WS). sacreBLEU splits tokens and strips lines with
 * these, so BLEU and chrF must too: Java's {@link Character#isWhitespace} alone misses the no-break spaces.
 */
final class PythonWhitespace {
    private PythonWhitespace() {
    }

    static boolean isSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    /** {@code line.split()}: runs of whitespace separate tokens; no empty tokens. */
    static List<String> split(String line) {
        List<String> tokens = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < line.length(); ) {
            int cp = line.codePointAt(i);
            if (isSpace(cp)) {
                if (start >= 0) {
                    tokens.add(line.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) {
            tokens.add(line.substring(start));
        }
        return tokens;
    }

    /** {@code line.rstrip()}. */
    static String rstrip(String line) {
        int end = line.length();
        while (end > 0) {
            int cp = line.codePointBefore(end);
            if (!isSpace(cp)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return line.substring(0, end);
    }
}
