package dev.sparktune.config;

import java.util.List;

/**
 * The keys of section {@code data} that only {@code sparktune prep} reads: which stages run after ingest and how.
 * Plain values here; data-prep turns them into each stage's options record (and checks what only it can check,
 * such as language codes).
 *
 * @param clean                run the clean stage ({@code clean})
 * @param stripHtml            {@code strip_html}
 * @param cleanMinChars        {@code clean_min_chars}: rows shorter than this after cleaning are rejected
 * @param cleanMaxChars        {@code clean_max_chars}: rows longer than this are rejected; 0 = no limit
 * @param languages            {@code languages}: ISO 639-1 codes to keep; empty = no language filter
 * @param detectLanguages      {@code detect_languages}: further languages recognised (and rejected)
 * @param languageMinDistance  {@code language_min_distance}: Lingua's minimum relative distance
 * @param piiMask              {@code pii_mask}: kinds of personal data masked (email, phone, card, id); empty = none
 * @param dedup                run the dedup stage ({@code dedup})
 * @param dedupExact           {@code dedup_exact}: drop exact duplicates (normalised hash)
 * @param dedupNear            {@code dedup_near}: drop MinHash LSH near-duplicates
 * @param dedupThreshold       {@code dedup_threshold}: Jaccard similarity for near-duplicates, in (0, 1]
 * @param dedupNumPerm         {@code dedup_num_perm}: MinHash signature length
 * @param dedupShingleSize     {@code dedup_shingle_size}: characters per shingle
 * @param augmentSeed          {@code augment_seed}: seed of every augmentation choice
 * @param synonymRatio         {@code synonym_ratio}: synonym-replacement copies per training row; 0 = off
 * @param synonymRate          {@code synonym_rate}: share of replaceable words replaced
 * @param synonymMaxReplacements {@code synonym_max_replacements}
 * @param protectedTokens      {@code protected_tokens}: tokens augmentation never touches
 * @param edaRatio             {@code eda_ratio}: EDA copies (swap, insert, delete) per training row; 0 = off
 * @param backTranslationRatio {@code back_translation_ratio}: back-translated copies per training row, at most 1
 * @param translator           {@code translator}: apertium | openai
 * @param translatorUrl        {@code translator_url}: the translation server's base URL
 * @param translatorModel      {@code translator_model}: chat model name (openai only)
 * @param translatorApiKeyEnv  {@code translator_api_key_env}: environment variable holding a bearer token
 * @param sourceLanguage       {@code source_language}: ISO 639-3 code of the rows' language
 * @param pivotLanguage        {@code pivot_language}: ISO 639-3 code translated to and back from
 * @param translationCache     {@code translation_cache}: folder of cached translations; null = beside
 *                             {@code prepared_path} as {@code <prepared_path>_translation_cache}
 * @param tokenize             {@code tokenize}: run tokenize/pack when {@code model.model_name_or_path} and
 *                             {@code data.tokenized_path} are set
 */
public record PrepConfig(
        boolean clean,
        boolean stripHtml,
        int cleanMinChars,
        int cleanMaxChars,
        List<String> languages,
        List<String> detectLanguages,
        double languageMinDistance,
        List<String> piiMask,
        boolean dedup,
        boolean dedupExact,
        boolean dedupNear,
        double dedupThreshold,
        int dedupNumPerm,
        int dedupShingleSize,
        long augmentSeed,
        double synonymRatio,
        double synonymRate,
        int synonymMaxReplacements,
        List<String> protectedTokens,
        double edaRatio,
        double backTranslationRatio,
        String translator,
        String translatorUrl,
        String translatorModel,
        String translatorApiKeyEnv,
        String sourceLanguage,
        String pivotLanguage,
        String translationCache,
        boolean tokenize) {

    static PrepConfig read(Section s) {
        boolean clean = s.flag("clean", true);
        boolean stripHtml = s.flag("strip_html", true);
        int cleanMinChars = s.integer("clean_min_chars", 1, Range.atLeast(0));
        int cleanMaxChars = s.integer("clean_max_chars", 0, Range.atLeast(0));
        if (cleanMaxChars > 0) {
            s.require(cleanMaxChars >= cleanMinChars, "clean_max_chars",
                    "must be 0 (no limit) or at least clean_min_chars (" + cleanMinChars + ")");
        }
        List<String> languages = s.strings("languages", List.of());
        List<String> detectLanguages = s.strings("detect_languages", List.of());
        double languageMinDistance = s.number("language_min_distance", 0.0, Range.closedOpen(0, 1));
        List<String> piiMask = s.strings("pii_mask", List.of("email", "phone", "card", "id"));
        boolean dedup = s.flag("dedup", true);
        boolean dedupExact = s.flag("dedup_exact", true);
        boolean dedupNear = s.flag("dedup_near", true);
        double dedupThreshold = s.number("dedup_threshold", 0.8, Range.closed(0, 1));
        s.require(dedupThreshold > 0, "dedup_threshold", "must be a Jaccard similarity in (0, 1], e.g. 0.8");
        int dedupNumPerm = s.integer("dedup_num_perm", 128, Range.closed(2, 1024));
        int dedupShingleSize = s.integer("dedup_shingle_size", 5, Range.closed(1, 64));
        long augmentSeed = s.longInteger("augment_seed", 42L, Range.ANY);
        double synonymRatio = s.number("synonym_ratio", 0.0, Range.atLeast(0));
        double synonymRate = s.number("synonym_rate", 0.1, Range.closed(0, 1));
        s.require(synonymRate > 0, "synonym_rate", "must be in (0, 1], e.g. 0.1");
        int synonymMaxReplacements = s.integer("synonym_max_replacements", 5, Range.atLeast(1));
        List<String> protectedTokens = s.strings("protected_tokens", List.of());
        double edaRatio = s.number("eda_ratio", 0.0, Range.atLeast(0));
        double backTranslationRatio = s.number("back_translation_ratio", 0.0, Range.closed(0, 1));
        String translator = s.choice("translator", "apertium", "apertium", "openai");
        String translatorUrl = s.string("translator_url", null);
        String translatorModel = s.string("translator_model", null);
        String translatorApiKeyEnv = s.string("translator_api_key_env", null);
        String sourceLanguage = s.string("source_language", "eng");
        String pivotLanguage = s.string("pivot_language", "spa");
        String translationCache = s.string("translation_cache", null);
        if (backTranslationRatio > 0) {
            s.require(translatorUrl != null, "back_translation_ratio",
                    "needs translator_url, the translation server's base URL (e.g. http://127.0.0.1:2737)");
            s.require(!translator.equals("openai") || translatorModel != null, "translator_model",
                    "must name the chat model when translator is openai");
        }
        boolean tokenize = s.flag("tokenize", true);
        return new PrepConfig(clean, stripHtml, cleanMinChars, cleanMaxChars, languages, detectLanguages,
                languageMinDistance, piiMask, dedup, dedupExact, dedupNear, dedupThreshold, dedupNumPerm,
                dedupShingleSize, augmentSeed, synonymRatio, synonymRate, synonymMaxReplacements, protectedTokens,
                edaRatio, backTranslationRatio, translator, translatorUrl, translatorModel, translatorApiKeyEnv,
                sourceLanguage, pivotLanguage, translationCache, tokenize);
    }
}
