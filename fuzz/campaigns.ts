import { adminCampaign } from "./admin-requests.js";
import type { Campaign } from "./campaign.js";
import { configCampaign } from "./configs.js";
import { faultCampaign } from "./faults.js";
import { floodCampaign } from "./flood.js";
import { raceCampaign } from "./races.js";
import { safetyCampaign } from "./safety/campaign.js";
import { soakCampaign } from "./soak.js";
import { streamInputCampaign } from "./stream-inputs.js";
import { webhookCampaign } from "./webhook-replies.js";

export const campaigns: Campaign[] = [
  configCampaign,
  adminCampaign,
  webhookCampaign,
  streamInputCampaign,
  raceCampaign,
  floodCampaign,
  faultCampaign,
  soakCampaign,
  safetyCampaign,
];
