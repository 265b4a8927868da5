// Type-checked (never run): costline/google, costline/mistral (ES modules,
// like the SDKs they subclass) and the OpenAI drop-in's provider option.
import { GoogleGenAI, ApiError } from "costline/google";
import { Mistral } from "costline/mistral";
import OpenAI from "costline/openai";
import * as genai from "@google/genai";
import * as mistralai from "@mistralai/mistralai";
import { instrument } from "costline";

const ai: genai.GoogleGenAI = new GoogleGenAI({ apiKey: "k" }, { agent: "summarise", tags: { team: "a" } });
const writer: GoogleGenAI = new GoogleGenAI({ apiKey: "k" }).withAgent("writer");
const mistral: mistralai.Mistral = new Mistral({ apiKey: "k" }, { tags: { team: "b" } });
const groq = new OpenAI({ baseURL: "https://api.groq.com/openai/v1" }, { provider: "groq" });
const plainGemini: genai.GoogleGenAI = instrument(new genai.GoogleGenAI({ apiKey: "k" }), { provider: "google" });
const plainMistral: mistralai.Mistral = instrument(new mistralai.Mistral({ apiKey: "k" }));

async function main(): Promise<void> {
  const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
  const text: string | undefined = response.text;
  for await (const chunk of await writer.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) {
    void chunk.usageMetadata?.promptTokenCount;
  }
  const chat = await mistral.chat.complete({ model: "mistral-small-latest", messages: [{ role: "user", content: "hi" }] });
  void chat.usage?.promptTokens;
  for await (const event of await new Mistral({ apiKey: "k" }).withAgent("w").chat.stream({ model: "m", messages: [] })) {
    void event.data.choices;
  }
  try {
    await ai.models.countTokens({ model: "gemini-2.5-flash", contents: "hi" });
  } catch (err) {
    if (err instanceof ApiError) void err.status;
  }
  void [text, groq, plainGemini, plainMistral];
}
void main;
